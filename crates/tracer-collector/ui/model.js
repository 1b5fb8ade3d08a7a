// Trace model: the span tree of a Jaeger JSON trace, its critical path, self times, the rows of
// a collapsible waterfall, search matching, the structural diff of two traces and
// service-to-service edges. No DOM here.

import { tagText } from './format.js';

// Tags the converter derives from OTLP fields; the span panel shows them as fields, not attributes.
const DERIVED_TAGS = new Set([
  'span.kind',
  'otel.status_code',
  'otel.status_description',
  'error',
  'otel.scope.name',
  'otel.scope.version',
  'w3c.tracestate',
]);

function tagValue(tags, key) {
  for (const t of tags || []) if (t.key === key) return t.value;
  return undefined;
}

/** Does a Jaeger span carry an error (`error=true` or `otel.status_code=ERROR`)? */
export function isError(span) {
  const e = tagValue(span.tags, 'error');
  return e === true || e === 'true' || tagValue(span.tags, 'otel.status_code') === 'ERROR';
}

/** Span attributes (tags other than those derived from OTLP span fields). */
export function attributesOf(node) {
  return (node.raw.tags || []).filter((t) => !DERIVED_TAGS.has(t.key));
}

/** Tags derived from OTLP span fields: kind, status, scope, trace state. */
export function spanTagsOf(node) {
  return (node.raw.tags || []).filter((t) => DERIVED_TAGS.has(t.key));
}

/** References other than the parent: links (FOLLOWS_FROM, or CHILD_OF beyond the first). */
export function linksOf(node) {
  return (node.raw.references || []).slice(node.parentId ? 1 : 0);
}

/** The parent span id of a Jaeger span: its first reference when that is CHILD_OF. */
function parentId(span) {
  const refs = span.references || [];
  return refs.length && refs[0].refType === 'CHILD_OF' ? refs[0].spanID : null;
}

function byStart(a, b) {
  return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A tree node for one Jaeger span (links to parent and children are set when it is placed). */
function makeNode(span, processes) {
  const process = processes[span.processID] || { serviceName: '(unknown service)', tags: [] };
  // One pass over the tags for what every row needs; the rest is read when a span is opened.
  let kind = '';
  let statusCode = 'UNSET';
  let statusMessage = '';
  let error = false;
  for (const t of span.tags || []) {
    switch (t.key) {
      case 'span.kind':
        kind = tagText(t.value);
        break;
      case 'otel.status_code':
        statusCode = tagText(t.value);
        error = error || t.value === 'ERROR';
        break;
      case 'otel.status_description':
        statusMessage = tagText(t.value);
        break;
      case 'error':
        error = error || t.value === true || t.value === 'true';
        break;
      default:
        break;
    }
  }
  return {
    id: span.spanID,
    raw: span,
    service: String(process.serviceName),
    process,
    operation: String(span.operationName),
    start: span.startTime,
    duration: span.duration,
    end: span.startTime + span.duration,
    kind,
    statusCode,
    statusMessage,
    error,
    logs: span.logs || [],
    parentId: parentId(span),
    parent: null,
    children: [],
    depth: 0,
    index: 0,
    missingParent: false,
    blob: null,
  };
}

/** The trace object of nodes in tree order: the counts the header shows, the roots, the ids. */
function traceOf(id, order, roots, byId) {
  let start = Infinity;
  let end = -Infinity;
  let depth = 0;
  let errorCount = 0;
  const services = new Map();
  for (const n of order) {
    start = Math.min(start, n.start);
    end = Math.max(end, n.end);
    depth = Math.max(depth, n.depth + 1);
    if (n.error) errorCount++;
    const s = services.get(n.service) || { name: n.service, count: 0, errors: 0 };
    s.count++;
    if (n.error) s.errors++;
    services.set(n.service, s);
  }
  if (!order.length) start = end = 0;
  return {
    id,
    nodes: order,
    byId,
    roots,
    root: primaryRoot(roots),
    start,
    end,
    duration: end - start,
    depth,
    spanCount: order.length,
    errorCount,
    services: [...services.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** Links the nodes (unique ids, any order) into their tree and lists them in pre-order. */
function orderedTrace(id, nodes, byId) {
  for (const node of nodes) {
    node.parent = null;
    node.children = [];
    node.depth = 0;
    node.index = 0;
    node.missingParent = false;
  }
  for (const node of nodes) {
    if (node.parentId === null || node.parentId === node.id) continue;
    const parent = byId.get(node.parentId);
    if (parent) {
      node.parent = parent;
      parent.children.push(node);
    } else {
      node.missingParent = true;
    }
  }
  for (const node of nodes) node.children.sort(byStart);

  const order = [];
  const visited = new Set();
  const walk = (root) => {
    const stack = [root];
    root.depth = 0;
    while (stack.length) {
      const node = stack.pop();
      if (visited.has(node)) continue;
      visited.add(node);
      node.index = order.length;
      order.push(node);
      for (let i = node.children.length - 1; i >= 0; i--) {
        const child = node.children[i];
        child.depth = node.depth + 1;
        stack.push(child);
      }
    }
  };
  const roots = nodes.filter((n) => n.parent === null).sort(byStart);
  for (const root of roots) walk(root);
  // Spans in a parent cycle are unreachable from any root: cut each cycle at its earliest span.
  while (order.length < nodes.length) {
    const rest = nodes.filter((n) => !visited.has(n)).sort(byStart);
    const root = rest[0];
    const siblings = root.parent.children;
    siblings.splice(siblings.indexOf(root), 1);
    root.parent = null;
    root.missingParent = true;
    roots.push(root);
    walk(root);
  }
  return traceOf(id, order, roots, byId);
}

/**
 * Builds the span tree of a Jaeger trace. Spans whose parent is absent (or that form a cycle)
 * become roots, so every span appears exactly once. Nodes are listed in pre-order.
 */
export function buildTrace(raw) {
  const processes = raw.processes || {};
  const byId = new Map();
  const nodes = [];
  for (const span of raw.spans || []) {
    if (byId.has(span.spanID)) continue; // a duplicate id cannot be placed twice in a tree
    const node = makeNode(span, processes);
    byId.set(node.id, node);
    nodes.push(node);
  }
  const trace = orderedTrace(raw.traceID, nodes, byId);
  trace.raw = raw;
  return trace;
}

/**
 * Builds the same tree as buildTrace from spans that arrive in parts, for a trace streamed in
 * tree order (the collector's `/api/collector/traces/{id}`): each span that comes right after
 * its place in the pre-order (a root starting no earlier than the last root, or a child of a
 * span on the path to the last row, starting no earlier than its last sibling) is appended at
 * once, so `snapshot()` can be drawn while the rest is on the way. A span that does not fit
 * (spans in another order, a parent cycle, a parent that comes after its child) stops the
 * appending; `finish()` then orders everything as buildTrace does. Either way `finish()`
 * returns what buildTrace would for the same spans.
 */
export class TraceBuilder {
  /** `processes`: the Jaeger processes the spans refer to (by `processID`). */
  constructor(traceId, processes) {
    this.id = traceId;
    this.processes = processes || {};
    this.byId = new Map();
    this.all = []; // every node, in arrival order
    this.order = []; // the nodes appended so far, in pre-order
    this.roots = [];
    this.path = []; // the last appended node and its ancestors, by depth
    this.awaited = new Set(); // parent ids of spans appended as roots because their parent was not there
    this.ordered = true; // false once a span did not fit: finish() orders everything
  }

  /** Adds Jaeger spans; a span id seen before is ignored, as buildTrace does. */
  add(spans) {
    for (const span of spans) {
      if (this.byId.has(span.spanID)) continue;
      const node = makeNode(span, this.processes);
      this.byId.set(node.id, node);
      this.all.push(node);
      if (this.awaited.has(node.id)) this.ordered = false;
      if (this.ordered) this.ordered = this.append(node);
    }
  }

  /** Appends node at the end of the pre-order if that is its place; returns whether it was. */
  append(node) {
    const ref = node.parentId !== null && node.parentId !== node.id;
    const parent = ref ? this.byId.get(node.parentId) : undefined;
    if (parent) {
      if (this.path[parent.depth] !== parent) return false;
      const last = parent.children[parent.children.length - 1];
      if (last && byStart(last, node) > 0) return false;
      node.parent = parent;
      node.depth = parent.depth + 1;
      parent.children.push(node);
      this.path.length = node.depth;
    } else {
      const last = this.roots[this.roots.length - 1];
      if (last && byStart(last, node) > 0) return false;
      if (ref) {
        node.missingParent = true;
        this.awaited.add(node.parentId);
      }
      this.roots.push(node);
      this.path.length = 0;
    }
    this.path.push(node);
    node.index = this.order.length;
    this.order.push(node);
    return true;
  }

  /** Spans received so far. */
  get received() {
    return this.all.length;
  }

  /** The tree so far (the spans appended in order), in buildTrace's shape. */
  snapshot() {
    return traceOf(this.id, this.order, this.roots, this.byId);
  }

  /** The tree of every span received, exactly as buildTrace builds it. */
  finish() {
    return this.ordered ? this.snapshot() : orderedTrace(this.id, this.all, this.byId);
  }
}

/** The root that names the trace: a true root (no parent reference) first, then the longest. */
function primaryRoot(roots) {
  let best = null;
  for (const r of roots) {
    if (!best) best = r;
    else if (best.missingParent && !r.missingParent) best = r;
    else if (best.missingParent === r.missingParent && r.duration > best.duration) best = r;
  }
  return best;
}

/** "service: operation" of a trace's root, as the search list and headers show it. */
export function traceName(trace) {
  if (!trace.root) return { service: '', operation: '(empty trace)' };
  const name = { service: trace.root.service, operation: trace.root.operation };
  if (trace.root.missingParent) name.operation += ' (missing root span)';
  return name;
}

/**
 * The critical path: the chain of work that determined the trace's end-to-end duration.
 * From the root's end, walk back: the last-finishing child that ended before the current
 * point is on the path; descend into it; when a span has no such child left, the remaining
 * time down to its start is its own and we return to its parent at its start time.
 * Returns Map spanId -> [[start, end], ...] (microseconds).
 */
export function criticalPath(trace) {
  const walk = criticalPathWalk(trace);
  while (!walk.step(Infinity));
  return walk.path;
}

/**
 * criticalPath in steps, so a page can compute it for a 100,000-span trace without blocking:
 * `step(n)` walks at most n spans and returns true once `path` (criticalPath's Map) is
 * complete.
 */
export function criticalPathWalk(trace) {
  const path = new Map();
  const root = trace.root;
  if (!root) return { path, step: () => true };
  const add = (node, from, to) => {
    if (to <= from && node.duration > 0) return;
    const segments = path.get(node.id);
    if (segments) segments.push([from, to]);
    else path.set(node.id, [[from, to]]);
  };
  // Per span (by its tree-order index): children by end time, latest first, and how far down
  // that list we are. Arrays, not Maps: the walk can visit every span of a 100,000-span trace.
  const sorted = new Array(trace.nodes.length);
  const cursor = new Int32Array(trace.nodes.length);
  const childrenByEnd = (node) => {
    let list = sorted[node.index];
    if (!list) {
      list = node.children.filter((c) => c.start >= node.start && c.end <= node.end);
      if (list.length > 1) list.sort((a, b) => b.end - a.end);
      sorted[node.index] = list;
    }
    return list;
  };
  let node = root;
  let bound = root.end; // the point in time we are walking back from
  let strict = false; // after returning from a child: the next child must end strictly before
  let guard = trace.spanCount * 4 + 10;
  const step = (n) => {
    for (let budget = n; node && guard > 0 && budget > 0; budget--) {
      guard--;
      const list = childrenByEnd(node);
      let i = cursor[node.index];
      while (i < list.length && (strict ? list[i].end >= bound : list[i].end > bound)) i++;
      const child = i < list.length ? list[i] : null;
      if (child) {
        cursor[node.index] = i + 1;
        add(node, child.end, bound);
        node = child;
        bound = child.end;
        strict = false;
      } else {
        cursor[node.index] = i;
        add(node, node.start, bound);
        if (node === root) node = null;
        else {
          bound = node.start;
          node = node.parent;
          strict = true;
        }
      }
    }
    return !node || guard <= 0;
  };
  return { path, step };
}

/** Microseconds of a span not covered by any of its children (children clipped to the span). */
export function selfTime(node) {
  const spans = node.children
    .map((c) => [Math.max(c.start, node.start), Math.min(c.end, node.end)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let from = -Infinity;
  let to = -Infinity;
  for (const [a, b] of spans) {
    if (a > to) {
      if (to > from) covered += to - from;
      from = a;
      to = b;
    } else if (b > to) {
      to = b;
    }
  }
  if (to > from) covered += to - from;
  return Math.max(0, node.duration - covered);
}

/**
 * Size of each span's subtree (itself included) by pre-order index, for nodes in pre-order
 * (`buildTrace(..).nodes`): a collapsed span skips that many rows.
 */
export function subtreeSizes(nodes) {
  const subtree = new Int32Array(nodes.length).fill(1);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const parent = nodes[i].parent;
    if (parent) subtree[parent.index] += subtree[i];
  }
  return subtree;
}

/**
 * The rows of a waterfall: the nodes (pre-order) minus the descendants of collapsed spans
 * (`collapsed`: a Set of span ids; `subtree` from subtreeSizes). With nothing collapsed it is
 * `nodes` itself, not a copy.
 */
export function visibleRows(nodes, collapsed, subtree) {
  if (!collapsed.size) return nodes;
  const rows = [];
  for (let i = 0; i < nodes.length;) {
    rows.push(nodes[i]);
    i += collapsed.has(nodes[i].id) ? subtree[i] : 1;
  }
  return rows;
}

/** Lower-cased text a span is searched by: ids, names, attribute keys and values, events. */
function searchBlob(node) {
  if (node.blob === null) {
    const parts = [node.id, node.service, node.operation, node.kind, node.statusCode, node.statusMessage];
    for (const t of node.raw.tags || []) parts.push(`${t.key}=${tagText(t.value)}`);
    for (const log of node.logs) for (const f of log.fields || []) parts.push(`${f.key}=${tagText(f.value)}`);
    for (const t of node.process.tags || []) parts.push(`${t.key}=${tagText(t.value)}`);
    node.blob = parts.join('\n').toLowerCase();
  }
  return node.blob;
}

/**
 * Spans matching a search: every whitespace-separated term must occur (case-insensitive) in
 * the span's id, service, operation, `key=value` of a tag, event field or resource attribute.
 */
export function findSpans(trace, query) {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) return [];
  return trace.nodes.filter((n) => {
    const blob = searchBlob(n);
    return terms.every((t) => blob.includes(t));
  });
}

function diffKey(node) {
  return `${node.service}\u0000${node.operation}`;
}

/**
 * Pairs two lists of sibling spans by (service, operation), the n-th of a name in A with the
 * n-th in B; pairs come out in order of start offset from the parent (originA/originB).
 */
function pairChildren(as, bs, originA, originB) {
  const queue = new Map();
  for (const b of bs) {
    const k = diffKey(b);
    if (!queue.has(k)) queue.set(k, []);
    queue.get(k).push(b);
  }
  const pairs = [];
  const used = new Set();
  for (const a of as) {
    const q = queue.get(diffKey(a));
    const b = q && q.length ? q.shift() : null;
    if (b) used.add(b);
    pairs.push([a, b]);
  }
  for (const b of bs) if (!used.has(b)) pairs.push([null, b]);
  const offset = ([x, y]) => (x ? x.start - originA : y.start - originB);
  return pairs.sort((p, q) => offset(p) - offset(q));
}

/**
 * Structural diff of trace B against trace A. Spans are matched top-down by their position in
 * the tree: same parent match, same service and operation, and the n-th such sibling in A with
 * the n-th in B. Rows come out in tree order with status
 * `same`, `changed` (duration moved by at least `threshold` of the larger one and 50µs),
 * `missing` (in A, not in B) or `added` (in B, not in A).
 */
export function diffTraces(a, b, threshold = 0.1) {
  const rows = [];
  const stack = pairChildren(a.roots, b.roots, a.start, b.start)
    .reverse()
    .map((pair) => [pair, 0]);
  while (stack.length) {
    const [[x, y], depth] = stack.pop();
    const any = x || y;
    let status;
    if (!x) status = 'added';
    else if (!y) status = 'missing';
    else {
      const delta = Math.abs(y.duration - x.duration);
      status = delta >= Math.max(threshold * Math.max(x.duration, y.duration), 50) ? 'changed' : 'same';
    }
    rows.push({
      service: any.service,
      operation: any.operation,
      depth,
      a: x,
      b: y,
      status,
      offsetA: x ? x.start - a.start : null,
      offsetB: y ? y.start - b.start : null,
      hasChildren: (x ? x.children.length : 0) + (y ? y.children.length : 0) > 0,
    });
    const pairs = pairChildren(x ? x.children : [], y ? y.children : [], x ? x.start : 0, y ? y.start : 0);
    for (let i = pairs.length - 1; i >= 0; i--) stack.push([pairs[i], depth + 1]);
  }
  const counts = { same: 0, changed: 0, missing: 0, added: 0 };
  for (const r of rows) counts[r.status]++;
  return { rows, counts };
}

/**
 * Service-to-service calls seen in traces: a span whose parent belongs to another service is
 * one call from the parent's service to its own (the rule the collector's
 * `/api/dependencies` counts by); the call failed when the span is an error.
 * Returns Map "parent\u0000child" -> {parent, child, calls, errors}.
 */
export function edgesFromTraces(rawTraces) {
  const edges = new Map();
  for (const raw of rawTraces) {
    const processes = raw.processes || {};
    const service = (s) => (processes[s.processID] || {}).serviceName;
    const byId = new Map();
    for (const s of raw.spans || []) byId.set(s.spanID, s);
    for (const s of raw.spans || []) {
      const pid = parentId(s);
      const parent = pid ? byId.get(pid) : undefined;
      if (!parent) continue;
      const from = service(parent);
      const to = service(s);
      if (from === to) continue;
      const key = `${from}\u0000${to}`;
      const e = edges.get(key) || { parent: from, child: to, calls: 0, errors: 0 };
      e.calls++;
      if (isError(s)) e.errors++;
      edges.set(key, e);
    }
  }
  return edges;
}

/** Summary of a trace for the search list (same numbers as the trace header). */
export function summarize(raw) {
  const t = buildTrace(raw);
  return {
    id: raw.traceID,
    name: traceName(t),
    start: t.start,
    duration: t.duration,
    spanCount: t.spanCount,
    errorCount: t.errorCount,
    services: t.services,
  };
}
