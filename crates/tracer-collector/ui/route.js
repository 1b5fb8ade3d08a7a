// Hash routes: every view has its own URL (#/search?..., #/trace/{id}, #/deps, #/compare/{a}/{b}).

/** Splits a hash ("#/trace/abc?span=1") into its path ("/trace/abc") and parameters. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/search';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, params };
}

/** Builds a hash route from a path and an object of parameters (empty ones left out). */
export function hashOf(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const query = q.toString();
  return `#${path}${query ? `?${query}` : ''}`;
}

/** The route of one trace, optionally with a selected span. */
export function traceHash(id, span) {
  return hashOf(`/trace/${encodeURIComponent(id)}`, { span });
}
