// The same-origin Jaeger query API (`/api/...`), as served by the collector on the query port.

/** An error answer of the API (envelope `errors[0].msg`) or of the network. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** False here; true in the saved offline page, whose api module answers from inlined traces. */
export const offline = false;

async function getJson(path, signal, init = {}) {
  let response;
  try {
    response = await fetch(path, { signal, headers: { accept: 'application/json' }, ...init });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the collector: ${e.message}`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  const error = body && Array.isArray(body.errors) && body.errors.length ? body.errors[0] : null;
  if (!response.ok || error) {
    throw new ApiError(response.status, error ? String(error.msg) : `HTTP ${response.status} for ${path}`);
  }
  return body;
}

const enc = encodeURIComponent;

/** The collector's counters (`/api/collector/stats`): store, ports, forwarding. */
export async function collectorStats(signal) {
  return getJson('/api/collector/stats', signal);
}

/** Service names, sorted. */
export async function services(signal) {
  const body = await getJson('/api/services', signal);
  return [...(body.data || [])].sort();
}

/** Operation names of one service, sorted. */
export async function operations(service, signal) {
  const body = await getJson(`/api/services/${enc(service)}/operations`, signal);
  return [...new Set(body.data || [])].sort();
}

/** One trace, or throws ApiError (404 when unknown). */
export async function trace(id, signal) {
  const body = await getJson(`/api/traces/${enc(id)}`, signal);
  if (!body.data || !body.data.length) throw new ApiError(404, 'trace not found');
  return body.data[0];
}

/** The trace linter's findings for one trace: `{traceID, spanCount, findings: [...]}`. */
export async function findings(id, signal) {
  const body = await getJson(`/api/traces/${enc(id)}/findings`, signal);
  return body.data;
}

/** Two sets of traces compared per operation path (`/api/regressions?{query}`). */
export async function regressions(query, signal) {
  const body = await getJson(`/api/regressions?${query}`, signal);
  return body.data;
}

/**
 * One trace streamed in tree order (`/api/collector/traces/{id}`, newline-delimited JSON: a
 * header, arrays of Jaeger spans, a last line saying it is complete). Calls
 * `onHeader({traceID, spans, processes})` once, then `onSpans(spans)` for each part as it
 * arrives; resolves when the trace is complete. Throws ApiError (404 when unknown; also when
 * the body ends before its last line).
 */
export async function streamTrace(id, signal, { onHeader, onSpans }) {
  const path = `/api/collector/traces/${enc(id)}`;
  let response;
  try {
    response = await fetch(path, { signal, headers: { accept: 'application/x-ndjson' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the collector: ${e.message}`);
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    const error = body && Array.isArray(body.errors) && body.errors.length ? body.errors[0] : null;
    throw new ApiError(response.status, error ? String(error.msg) : `HTTP ${response.status} for ${path}`);
  }
  let header = false;
  let complete = false;
  const line = (text) => {
    if (!text) return;
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ApiError(0, `trace ${id}: a line of the response is not JSON (${e.message})`);
    }
    if (Array.isArray(value)) onSpans(value);
    else if (!header) {
      header = true;
      onHeader(value);
    } else if (value.done) complete = true;
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, `the trace stopped arriving: ${e.message}`);
    }
    if (chunk.done) break;
    const from = buffer.length;
    buffer += decoder.decode(chunk.value, { stream: true });
    let end = buffer.indexOf('\n', from);
    let start = 0;
    while (end >= 0) {
      line(buffer.slice(start, end));
      start = end + 1;
      end = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
  }
  const rest = buffer + decoder.decode();
  // A last line without its newline is a cut-off one unless it parses (and says done).
  try {
    line(rest);
  } catch (_) {
    complete = false;
  }
  if (!complete) throw new ApiError(0, `trace ${id} arrived incomplete (the response was cut short)`);
}

/** URL of one trace as a file: format `otlp-json`, `jaeger-json` or `html` (a page that opens offline). */
export function exportUrl(id, format) {
  return `/api/export/${enc(id)}?format=${enc(format)}`;
}

/**
 * Stores a trace file (OTLP JSON, JSON lines or one document, or Jaeger JSON) like any trace.
 * Returns `{traceIDs, spans, rejected, message}`; a bad file throws ApiError naming line and field.
 */
export async function importFile(file, signal) {
  const body = await getJson('/api/import', signal, {
    method: 'POST',
    body: file,
    headers: { accept: 'application/json', 'content-type': 'application/json' },
  });
  return body.data;
}

/** Dependency links `{parent, child, callCount}` for the window ending at endMs. */
export async function dependencies(endMs, lookbackMs, signal) {
  const body = await getJson(`/api/dependencies?endTs=${endMs}&lookback=${lookbackMs}`, signal);
  return body.data || [];
}

function traceStart(t) {
  let min = Infinity;
  for (const s of t.spans) if (s.startTime < min) min = s.startTime;
  return min;
}

function searchQuery(p, service, startUs, endUs) {
  const q = new URLSearchParams();
  if (service) q.set('service', service);
  if (p.operation) q.set('operation', p.operation);
  if (p.tags && Object.keys(p.tags).length) q.set('tags', JSON.stringify(p.tags));
  if (p.minDuration) q.set('minDuration', p.minDuration);
  if (p.maxDuration) q.set('maxDuration', p.maxDuration);
  q.set('start', String(startUs));
  q.set('end', String(endUs));
  q.set('limit', String(p.limit));
  return `/api/traces?${q}`;
}

/**
 * Searches traces. `p.service` empty means all services: the Jaeger API requires a service,
 * so the search runs once per service (same time window) and the answers are merged.
 * Returns the newest `p.limit` traces, newest first, and the number of requests made.
 */
export async function searchTraces(p, signal) {
  const endUs = p.endUs || Date.now() * 1000;
  const startUs = endUs - p.lookbackUs;
  const names = p.service ? [p.service] : await services(signal);
  const answers = await Promise.all(names.map((name) => getJson(searchQuery(p, name, startUs, endUs), signal)));
  const byId = new Map();
  for (const body of answers) for (const t of body.data || []) byId.set(t.traceID, t);
  return { traces: newest([...byId.values()], p.limit), requests: names.length };
}

function newest(traces, limit) {
  return traces
    .map((t) => [traceStart(t), t])
    .sort((a, b) => b[0] - a[0])
    .slice(0, limit)
    .map((x) => x[1]);
}

/** A metric family of Jaeger's metrics API: kind is calls, errors or latencies. */
export async function metrics(kind, query, signal) {
  return getJson(`/api/metrics/${enc(kind)}?${query}`, signal);
}
