// Trace page: header, waterfall (virtualized, collapsible, searchable, critical path) and the
// span detail panel.

import * as api from './api.js';
import { copyButton, h, mount, notice, serviceBadge } from './dom.js';
import { formatDuration, formatTime, serviceColor, tagText } from './format.js';
import {
  attributesOf, buildTrace, criticalPath, findSpans, linksOf, spanTagsOf, traceName,
} from './model.js';
import { hashOf, traceHash } from './route.js';
import { findingsPanel } from './findings.js';
import { VirtualList } from './vlist.js';

const ROW_HEIGHT = 26;
const INDENT_PX = 14;
const MAX_INDENT_DEPTH = 40; // deeper spans stop moving right and show their depth instead
const TICKS = 5;

function metaItem(label, value, id) {
  return h('div', { class: 'meta-item' }, h('dt', null, label), h('dd', { id }, value));
}

/** A key/value table of Jaeger tags; values are text, never markup. */
function kvTable(tags, className = '') {
  if (!tags || !tags.length) return h('p', { class: 'muted' }, 'none');
  return h('table', { class: ['kv', className] }, h('tbody', null, tags.map((t) =>
    h('tr', { dataset: { key: t.key } },
      h('th', { scope: 'row' }, t.key),
      h('td', { class: `type-${t.type || 'string'}`, title: t.type || '' }, tagText(t.value))))));
}

/** Microseconds of a span not covered by any of its children. */
function selfTime(node) {
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

export async function traceView(main, id, params, ctx) {
  mount(main, h('div', { class: 'loading' }, `Loading trace ${id}…`));
  let raw;
  try {
    raw = await api.trace(id, ctx.signal);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    const msg = e.status === 404 ? `Trace ${id} was not found (it may be older than the store keeps, or the id is wrong).` : `Cannot load trace ${id}: ${e.message}`;
    mount(main, notice('error', msg));
    return null;
  }
  const trace = buildTrace(raw);
  const nodes = trace.nodes;
  const critical = criticalPath(trace);
  const span = Math.max(trace.duration, 1);
  // Size of each span's subtree (itself included), by pre-order index: skips collapsed subtrees.
  const subtree = new Int32Array(nodes.length).fill(1);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const parent = nodes[i].parent;
    if (parent) subtree[parent.index] += subtree[i];
  }

  const state = {
    collapsed: new Set(),
    selected: trace.byId.has(params.get('span')) ? params.get('span') : null,
    find: params.get('find') || '',
    matches: [],
    matchSet: new Set(),
    current: -1,
    showCritical: params.get('critical') !== '0',
  };
  let rows = [];

  const saveUrl = () => ctx.replaceParams({
    span: state.selected, find: state.find, critical: state.showCritical ? '' : '0',
  });

  // ---- header -------------------------------------------------------------------------------
  const name = traceName(trace);
  const header = h('div', { class: 'trace-header' },
    h('h1', { class: 'trace-title' },
      name.service ? serviceBadge(name.service) : null, ' ',
      h('span', { class: 'op', id: 'trace-title-op' }, name.operation)),
    h('div', { class: 'trace-id' }, h('span', { class: 'muted' }, 'Trace ID '),
      h('code', { id: 'trace-id', class: 'mono' }, trace.id), copyButton(trace.id, 'Copy ID')),
    h('dl', { class: 'trace-meta' },
      metaItem('Start', formatTime(trace.start), 'meta-start'),
      metaItem('Duration', formatDuration(trace.duration), 'meta-duration'),
      metaItem('Services', String(trace.services.length), 'meta-services'),
      metaItem('Depth', String(trace.depth), 'meta-depth'),
      metaItem('Total spans', String(trace.spanCount), 'meta-spans'),
      metaItem('Errors', String(trace.errorCount), 'meta-errors')),
    h('div', { class: 'trace-services' }, trace.services.map((svc) => serviceBadge(svc.name, svc.count))));

  // ---- toolbar ------------------------------------------------------------------------------
  const expandAll = h('button', { type: 'button', id: 'expand-all' }, 'Expand all');
  const collapseAll = h('button', { type: 'button', id: 'collapse-all' }, 'Collapse all');
  const criticalBox = h('input', { type: 'checkbox', id: 'critical-toggle', checked: state.showCritical });
  const findInput = h('input', {
    type: 'search', id: 'span-find', placeholder: 'Find spans (name, service, tag=value, id)',
    value: state.find, spellcheck: 'false', 'aria-label': 'Find spans',
  });
  const findStatus = h('span', { class: 'find-status', id: 'find-status', 'aria-live': 'polite' });
  const prevMatch = h('button', { type: 'button', id: 'find-prev', title: 'Previous match (Shift+Enter)' }, '↑');
  const nextMatch = h('button', { type: 'button', id: 'find-next', title: 'Next match (Enter)' }, '↓');
  const toolbar = h('div', { class: 'toolbar' },
    expandAll, collapseAll,
    h('label', { class: 'inline critical-label' }, criticalBox, ' Critical path'),
    h('span', { class: 'find' }, findInput, findStatus, prevMatch, nextMatch),
    h('span', { class: 'spacer' }),
    h('a', { class: 'button', href: hashOf(`/compare/${encodeURIComponent(trace.id)}`) }, 'Compare with…'),
    api.offline ? null : h('a', { class: 'button', href: `/api/traces/${encodeURIComponent(trace.id)}`, target: '_blank', rel: 'noopener' }, 'JSON'),
    api.offline ? null : h('a', {
      class: 'button', id: 'download-otlp', href: api.exportUrl(trace.id, 'otlp-json'),
      download: `trace-${trace.id}.otlp.json`, title: 'The trace as OTLP JSON, for tracer-collector import or any OTLP tool',
    }, 'Download OTLP JSON'),
    api.offline ? null : h('a', {
      class: 'button', id: 'save-html', href: api.exportUrl(trace.id, 'html'),
      download: `trace-${trace.id}.html`, title: 'One HTML file with this view that opens offline, to attach to a bug report',
    }, 'Save as HTML'));

  // ---- waterfall ----------------------------------------------------------------------------
  const ruler = h('div', { class: 'wf-ruler' });
  for (let i = 0; i < TICKS; i++) {
    const f = i / (TICKS - 1);
    ruler.appendChild(h('span', {
      class: ['tick', i === 0 ? 'first' : i === TICKS - 1 ? 'last' : ''], style: { left: `${f * 100}%` },
    }, formatDuration(trace.duration * f)));
  }
  const wfHeader = h('div', { class: 'wf-header' }, h('div', { class: 'wf-name-head' }, 'Service & operation'), ruler);
  const list = new VirtualList({ rowHeight: ROW_HEIGHT, renderRow, className: 'wf-body' });
  list.el.id = 'waterfall-rows';
  const detail = h('aside', { class: 'span-detail', id: 'span-detail', hidden: true });

  function renderRow(node) {
    const color = serviceColor(node.service);
    const collapsed = state.collapsed.has(node.id);
    const hasKids = node.children.length > 0;
    const toggle = hasKids
      ? h('button', {
        type: 'button', class: 'toggle', 'aria-expanded': String(!collapsed),
        'aria-label': collapsed ? 'Expand' : 'Collapse',
      }, collapsed ? '▸' : '▾')
      : h('span', { class: 'toggle-space' });
    if (hasKids) {
      toggle.addEventListener('click', (e) => {
        e.stopPropagation();
        if (collapsed) state.collapsed.delete(node.id); else state.collapsed.add(node.id);
        relayout();
      });
    }
    const nameCell = h('div', {
      class: 'wf-name', style: { 'padding-left': `${Math.min(node.depth, MAX_INDENT_DEPTH) * INDENT_PX + 4}px` },
      title: `${node.service}: ${node.operation}`,
    },
    toggle,
    h('span', { class: 'svc-mark', style: { 'background-color': color } }),
    h('span', { class: 'svc' }, node.service),
    h('span', { class: 'op' }, node.operation),
    node.error ? h('span', { class: 'err-icon', title: 'error' }, '!') : null,
    collapsed ? h('span', { class: 'hidden-count', title: 'spans hidden' }, `+${subtree[node.index] - 1}`) : null,
    node.depth > MAX_INDENT_DEPTH ? h('span', { class: 'deep' }, `depth ${node.depth}`) : null);

    const left = ((node.start - trace.start) / span) * 100;
    const width = (node.duration / span) * 100;
    const bar = h('div', {
      class: ['wf-bar', node.error ? 'error' : ''],
      style: { left: `${left}%`, width: `${width}%`, 'background-color': color },
    });
    const segments = state.showCritical ? critical.get(node.id) : null;
    if (segments) {
      for (const [a, b] of segments) {
        const d = Math.max(node.duration, 1);
        bar.appendChild(h('span', {
          class: 'crit',
          style: { left: `${((a - node.start) / d) * 100}%`, width: `${(Math.max(b - a, 0) / d) * 100}%` },
        }));
      }
    }
    // The duration goes after the bar, else before it, else inside its end.
    let labelStyle;
    let inside = false;
    if (left + width < 75) labelStyle = { left: `calc(${left + width}% + 4px)` };
    else if (left > 20) labelStyle = { right: `calc(${100 - left}% + 4px)` };
    else {
      labelStyle = { right: `calc(${100 - left - width}% + 4px)` };
      inside = true;
    }
    const label = h('span', { class: ['wf-label', inside ? 'inside' : ''], style: labelStyle }, formatDuration(node.duration));
    const timeline = h('div', { class: 'wf-timeline' }, bar, label);
    const current = state.current >= 0 && state.matches[state.current] === node;
    const row = h('div', {
      class: ['wf-row', node.id === state.selected ? 'selected' : '', state.matchSet.has(node) ? 'match' : '',
        current ? 'current' : '', segments ? 'critical' : '', node.error ? 'error' : ''],
      role: 'listitem',
      dataset: { spanId: node.id, depth: node.depth, service: node.service },
    }, nameCell, timeline);
    row.addEventListener('click', () => select(node.id === state.selected ? null : node.id));
    return row;
  }

  function relayout() {
    rows = [];
    for (let i = 0; i < nodes.length;) {
      rows.push(nodes[i]);
      i += state.collapsed.has(nodes[i].id) ? subtree[i] : 1;
    }
    list.setItems(rows);
  }

  /** Expands the ancestors of node; returns its row index. */
  function reveal(node) {
    let changed = false;
    for (let p = node.parent; p; p = p.parent) changed = state.collapsed.delete(p.id) || changed;
    if (changed) relayout();
    return rows.indexOf(node);
  }

  function select(spanId) {
    state.selected = spanId;
    const node = spanId ? trace.byId.get(spanId) : null;
    renderDetail(node);
    list.refresh();
    saveUrl();
  }

  // ---- span detail ----------------------------------------------------------------------------
  function renderDetail(node) {
    if (!node) {
      detail.hidden = true;
      mount(detail);
      return;
    }
    detail.hidden = false;
    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close', title: 'Close (Esc)' }, '×');
    close.addEventListener('click', () => select(null));
    const parentCell = node.parent
      ? spanButton(node.parent.id, `${node.parent.service}: ${node.parent.operation}`)
      : node.parentId ? h('span', null, h('code', null, node.parentId), ' (not in this trace)') : 'none (root span)';
    const criticalUs = (critical.get(node.id) || []).reduce((sum, [a, b]) => sum + (b - a), 0);
    const spanTags = spanTagsOf(node);
    const attributes = attributesOf(node);
    const nodeLinks = linksOf(node);
    const scope = spanTags.filter((t) => t.key.startsWith('otel.scope.'));
    const traceState = spanTags.find((t) => t.key === 'w3c.tracestate');
    const fields = [
      ['Service', node.service],
      ['Operation', node.operation],
      ['Span ID', h('span', null, h('code', { id: 'detail-span-id' }, node.id), copyButton(node.id))],
      ['Parent', parentCell],
      ['Kind', h('span', { id: 'detail-kind' }, node.kind || 'unspecified')],
      ['Status', h('span', { id: 'detail-status', class: node.error ? 'status-error' : '' },
        node.statusCode, node.statusMessage ? ` — ${node.statusMessage}` : '')],
      ['Start', `+${formatDuration(node.start - trace.start)} (${formatTime(node.start)})`],
      ['Duration', formatDuration(node.duration)],
      ['Self time', formatDuration(selfTime(node))],
      ['On critical path', criticalUs > 0 || critical.has(node.id) ? formatDuration(criticalUs) : 'no'],
      ['Depth', String(node.depth)],
    ];
    if (scope.length) fields.push(['Scope', scope.map((t) => tagText(t.value)).join(' ')]);
    if (traceState) fields.push(['Trace state', tagText(traceState.value)]);

    const events = node.logs.length
      ? h('ol', { class: 'events' }, node.logs.map((log) => {
        const nameField = (log.fields || []).find((f) => f.key === 'event');
        const rest = (log.fields || []).filter((f) => f !== nameField);
        return h('li', null,
          h('div', { class: 'event-head' },
            h('span', { class: 'mono offset' }, `+${formatDuration(log.timestamp - trace.start)}`), ' ',
            h('strong', null, nameField ? tagText(nameField.value) : '(event)')),
          rest.length ? kvTable(rest) : null);
      }))
      : h('p', { class: 'muted' }, 'none');

    const links = nodeLinks.length
      ? h('ul', { class: 'links' }, nodeLinks.map((ref) => {
        const here = ref.traceID === trace.id && trace.byId.has(ref.spanID);
        return h('li', null, h('span', { class: 'badge' }, ref.refType), ' ',
          here ? spanButton(ref.spanID, ref.spanID)
            : h('a', { href: traceHash(ref.traceID, ref.spanID), class: 'mono' }, `${ref.traceID} / ${ref.spanID}`));
      }))
      : h('p', { class: 'muted' }, 'none');

    const resource = [{ key: 'service.name', type: 'string', value: node.service }, ...(node.process.tags || [])];

    mount(detail,
      h('div', { class: 'detail-head' },
        h('h2', { id: 'detail-title' }, node.operation),
        close),
      h('div', { class: 'detail-service' }, serviceBadge(node.service)),
      h('table', { class: 'kv fields' }, h('tbody', null, fields.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v))))),
      h('section', { id: 'detail-attributes' }, h('h3', null, `Attributes (${attributes.length})`), kvTable(attributes)),
      h('section', { id: 'detail-events' }, h('h3', null, `Events (${node.logs.length})`), events),
      h('section', { id: 'detail-links' }, h('h3', null, `Links (${nodeLinks.length})`), links),
      h('section', { id: 'detail-resource' }, h('h3', null, 'Resource'), kvTable(resource)));
  }

  function spanButton(spanId, label) {
    const b = h('button', { type: 'button', class: 'linklike' }, label);
    b.addEventListener('click', () => {
      const node = trace.byId.get(spanId);
      list.scrollToIndex(reveal(node));
      select(spanId);
    });
    return b;
  }

  // ---- find -----------------------------------------------------------------------------------
  function runFind(moveTo) {
    state.find = findInput.value;
    state.matches = findSpans(trace, state.find);
    state.matchSet = new Set(state.matches);
    state.current = -1;
    if (moveTo !== undefined && state.matches.length) step(moveTo);
    showFindStatus();
    list.refresh();
    saveUrl();
  }

  function showFindStatus() {
    const n = state.matches.length;
    if (!state.find.trim()) findStatus.textContent = '';
    else if (!n) findStatus.textContent = 'no match';
    else if (state.current < 0) findStatus.textContent = `${n} match${n === 1 ? '' : 'es'}`;
    else findStatus.textContent = `${state.current + 1} of ${n}`;
  }

  function step(direction) {
    const n = state.matches.length;
    if (!n) return;
    state.current = state.current < 0 ? (direction > 0 ? 0 : n - 1) : (state.current + direction + n) % n;
    list.scrollToIndex(reveal(state.matches[state.current]));
    showFindStatus();
    list.refresh();
  }

  let findTimer = 0;
  findInput.addEventListener('input', () => {
    clearTimeout(findTimer);
    findTimer = setTimeout(() => runFind(), 120);
  });
  // Clearing the box (its × button, or programmatically) may fire only these.
  for (const type of ['change', 'search']) {
    findInput.addEventListener(type, () => {
      if (findInput.value !== state.find) runFind();
    });
  }
  findInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (findInput.value !== state.find) runFind(e.shiftKey ? -1 : 1);
      else step(e.shiftKey ? -1 : 1);
    }
  });
  prevMatch.addEventListener('click', () => step(-1));
  nextMatch.addEventListener('click', () => step(1));

  expandAll.addEventListener('click', () => {
    state.collapsed.clear();
    relayout();
  });
  collapseAll.addEventListener('click', () => {
    for (const n of nodes) if (n.children.length) state.collapsed.add(n.id);
    list.el.scrollTop = 0;
    relayout();
  });
  criticalBox.addEventListener('change', () => {
    state.showCritical = criticalBox.checked;
    list.refresh();
    saveUrl();
  });
  const onKey = (e) => {
    if (e.key === 'Escape' && state.selected && document.activeElement !== findInput) select(null);
  };
  document.addEventListener('keydown', onKey);

  const labelOf = (sid) => (trace.byId.has(sid) ? `${trace.byId.get(sid).service} ${trace.byId.get(sid).operation}` : sid);
  const showSpan = (sid) => { if (trace.byId.has(sid)) { list.scrollToIndex(reveal(trace.byId.get(sid))); select(sid); } };
  const findings = findingsPanel(id, { signal: ctx.signal, labelOf, select: showSpan });
  mount(main, h('div', { class: 'trace-page' },
    header, findings, toolbar,
    h('div', { class: 'trace-body' },
      h('div', { class: 'waterfall', id: 'waterfall' }, wfHeader, list.el),
      detail)));
  relayout();
  if (state.find) runFind();
  if (state.selected) {
    const node = trace.byId.get(state.selected);
    list.scrollToIndex(reveal(node));
    renderDetail(node);
  }
  // User Timing marks for the first screen (read by the browser tests, visible in any
  // profiler): the rows are in the DOM, then the frame after the one that painted them.
  performance.mark('tracer:trace-rows', { detail: { spans: nodes.length } });
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('tracer:trace-painted')));
  return () => {
    clearTimeout(findTimer);
    document.removeEventListener('keydown', onKey);
    list.destroy();
  };
}
