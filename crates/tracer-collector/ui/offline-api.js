// The api module of the saved HTML page (see src/ui/offline.rs): the same calls as api.js,
// answered from the traces inlined in the page, so the page works from file:// without network.

export const offline = true;

/** An error answer, as api.js raises them. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const element = document.getElementById('tracer-offline-traces');
const traces = element ? JSON.parse(element.textContent) : [];

// Open on the first trace.
if (!location.hash && traces.length) {
  history.replaceState(null, '', `#/trace/${encodeURIComponent(traces[0].traceID)}`);
}

function serviceNames(t) {
  return Object.values(t.processes || {}).map((p) => p.serviceName);
}

/** Service names of the saved traces, sorted. */
export async function collectorStats() {
  throw new ApiError(404, 'the collector status is not part of this saved page');
}

export async function services() {
  return [...new Set(traces.flatMap(serviceNames))].sort();
}

/** Operation names of one service in the saved traces, sorted. */
export async function operations(service) {
  const names = new Set();
  for (const t of traces) {
    for (const s of t.spans) {
      if ((t.processes[s.processID] || {}).serviceName === service) names.add(s.operationName);
    }
  }
  return [...names].sort();
}

/** One saved trace, or ApiError 404. */
export async function trace(id) {
  const want = String(id).toLowerCase().replace(/^0+/, '');
  const found = traces.find((t) => t.traceID.toLowerCase().replace(/^0+/, '') === want);
  if (!found) throw new ApiError(404, 'trace not found in this saved page');
  return found;
}

/** No linter in a saved page: the findings panel stays hidden. */
export async function findings() {
  throw new ApiError(404, 'findings are not part of this saved page');
}

/** No comparison of trace sets in a saved page. */
export async function regressions() {
  throw new ApiError(404, 'comparing sets of traces needs the collector, not a saved page');
}

/** One saved trace in the shape of api.js's streamTrace: its header, then all its spans. */
export async function streamTrace(id, signal, { onHeader, onSpans }) {
  const t = await trace(id);
  onHeader({ traceID: t.traceID, spans: t.spans.length, processes: t.processes });
  onSpans(t.spans);
}

/** No dependency data in a saved page. */
export async function dependencies() {
  return [];
}

/** The saved traces of `p.service` (all when empty). */
export async function searchTraces(p) {
  const found = traces.filter((t) => !p.service || serviceNames(t).includes(p.service));
  return { traces: found.slice(0, p.limit), requests: 0 };
}

/** No export from a saved page. */
export function exportUrl() {
  return '#/';
}

/** No upload from a saved page. */
export async function importFile() {
  throw new ApiError(0, 'a saved page cannot store traces');
}

/** No metrics in a saved page: it holds traces, not the collector's store. */
export async function metrics() {
  throw new ApiError(501, 'a saved page has no metrics; open the service page on a running collector');
}
