// Trace page (#/trace/{id}?span=&find=&critical=): loads the trace and puts its parts together:
// the header (trace-header.js), the toolbar, the waterfall (trace-waterfall.js), the span
// detail (trace-detail.js) and the find box (trace-find.js). The parts share one state object,
// created here and passed to each; they talk to each other only through the callbacks below.
//
// The trace arrives in parts, in tree order (api.streamTrace): the page is drawn from the first
// part, rows are appended as the rest arrives (model.js TraceBuilder), and what needs the whole
// trace (critical path, final counts, find over every span) follows when it is complete.

import * as api from './api.js';
import { h, mount, notice, on } from './dom.js';
import { findingsPanel } from './findings.js';
import { TraceBuilder, criticalPathWalk } from './model.js';
import { createSpanDetail } from './trace-detail.js';
import { createFind } from './trace-find.js';
import { createHeader } from './trace-header.js';
import { createWaterfall } from './trace-waterfall.js';

/** How often the page takes in the spans that arrived meanwhile while a trace loads (ms). */
const UPDATE_MS = 200;
/** Spans the critical path walk visits per task, so a 100,000-span trace never blocks input. */
const CRITICAL_STEPS = 5000;

/**
 * The state of one trace view:
 * - trace: the span tree (model.js, buildTrace's shape), so far while it loads;
 * - complete: whether every span has arrived;
 * - critical: the critical path (model.js criticalPath), null until the trace is complete
 *   and the path walked;
 * - selected: the id of the span shown in the detail panel, or null; wanted: the span the URL
 *   asked for, selected when it arrives;
 * - collapsed: ids of the spans whose subtree is hidden;
 * - find, matches, matchSet, current: the find box's text, its matching nodes (tree order),
 *   the same as a Set, and the index of the current match (-1: none);
 * - showCritical: whether the critical path is drawn.
 */
export function initialState(trace, params) {
  return {
    trace,
    complete: false,
    critical: null,
    selected: null,
    wanted: params.get('span') || null,
    collapsed: new Set(),
    find: params.get('find') || '',
    matches: [],
    matchSet: new Set(),
    current: -1,
    showCritical: params.get('critical') !== '0',
  };
}

/** The state once the trace is complete: its final tree (the critical path follows). */
export function completeState(state, trace) {
  state.trace = trace;
  state.complete = true;
  state.critical = null;
  if (state.selected && !trace.byId.has(state.selected)) state.selected = null;
  return state;
}

function loadError(id, e) {
  return e.status === 404
    ? `Trace ${id} was not found (it may be older than the store keeps, or the id is wrong).`
    : `Cannot load trace ${id}: ${e.message}`;
}

export async function traceView(main, id, params, ctx) {
  mount(main, h('div', { class: 'loading' }, `Loading trace ${id}…`));
  let builder = null;
  let total = 0;
  let page = null; // the drawn page, once the first part is in
  let firstPart;
  const first = new Promise((resolve) => {
    firstPart = resolve;
  });
  const load = api.streamTrace(id, ctx.signal, {
    onHeader: (header) => {
      builder = new TraceBuilder(header.traceID, header.processes);
      total = header.spans;
    },
    onSpans: (spans) => {
      builder.add(spans);
      if (page) page.arrived();
      else firstPart();
    },
  });
  try {
    await Promise.race([load, first]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(main, notice('error', loadError(id, e)));
    return null;
  }
  if (!builder) builder = new TraceBuilder(id, {}); // an empty trace: a header and no spans
  page = drawPage(main, id, builder, () => total, params, ctx);
  load.then(
    () => page.complete(),
    (e) => {
      if (e.name !== 'AbortError' && !ctx.signal.aborted) page.failed(loadError(id, e));
    },
  );
  return page.cleanup;
}

/**
 * Draws the page from what `builder` holds so far. Returns `{arrived, complete, failed,
 * cleanup}`: more spans arrived, every span arrived, the load failed (with a message), and the
 * cleanup for when the view goes away.
 */
function drawPage(main, id, builder, total, params, ctx) {
  const state = initialState(builder.snapshot(), params);
  const saveUrl = () =>
    ctx.replaceParams({
      span: state.selected || (state.complete ? null : state.wanted),
      find: state.find,
      critical: state.showCritical ? '' : '0',
    });

  const header = createHeader(state);
  const waterfall = createWaterfall(state, { onSelect: (spanId) => select(spanId), onChange: saveUrl });
  const detail = createSpanDetail(state, {
    onOpen: (spanId) => select(spanId, true),
    onClose: () => select(null),
  });
  const find = createFind(state, {
    onMatches: () => {
      waterfall.refresh();
      saveUrl();
    },
    onStep: (node) => {
      waterfall.reveal(node);
      waterfall.refresh();
    },
  });

  /** Shows span spanId (null: none) in the detail panel; with reveal, scrolls its row into view. */
  function select(spanId, reveal = false) {
    state.selected = spanId;
    const node = spanId ? state.trace.byId.get(spanId) : null;
    if (node && reveal) waterfall.reveal(node);
    detail.show(node);
    waterfall.refresh();
    saveUrl();
  }

  const unbindKey = on(document, 'keydown', (e) => {
    if (e.key === 'Escape' && state.selected && document.activeElement !== find.input) select(null);
  });

  // Mount point for panels about the whole trace (the findings panel, findings.js): empty and
  // hidden until a part fills it; fill it in complete() below, where the whole trace is known.
  const panels = h('div', { class: 'trace-panels', id: 'trace-panels', hidden: true });

  mount(
    main,
    h(
      'div',
      { class: 'trace-page' },
      header.el,
      panels,
      h('div', { class: 'toolbar' }, waterfall.controls, find.el, h('span', { class: 'spacer' }), header.actions),
      h('div', { class: 'trace-body' }, waterfall.el, detail.el),
    ),
  );

  const progress = () => {
    const n = builder.received;
    header.progress(`Loading spans: ${n.toLocaleString('en-US')} of ${total().toLocaleString('en-US')}…`);
  };
  /** Selects the span the URL asked for once it is in the tree. */
  const selectWanted = () => {
    const node = state.wanted ? state.trace.byId.get(state.wanted) : null;
    if (node && state.trace.nodes[node.index] === node) {
      state.wanted = null;
      select(node.id, true);
    }
  };

  waterfall.relayout();
  if (state.find) find.run();
  selectWanted();
  progress();
  // User Timing marks for the first screen (read by the browser tests, visible in any
  // profiler): the rows are in the DOM, then the frame after the one that painted them.
  performance.mark('tracer:trace-rows', { detail: { spans: state.trace.nodes.length } });
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('tracer:trace-painted')));

  let timer = 0;
  let done = false; // every span is in (or the load failed)
  let gone = false; // the view went away
  /** Takes in the spans that arrived since the last time. */
  function update() {
    timer = 0;
    if (done) return;
    state.trace = builder.snapshot();
    header.update();
    waterfall.update();
    if (state.selected === null) selectWanted();
    progress();
  }

  return {
    arrived() {
      if (!timer && !done) timer = setTimeout(update, UPDATE_MS);
    },
    complete() {
      clearTimeout(timer);
      done = true;
      completeState(state, builder.finish());
      header.update();
      header.progress(null);
      waterfall.update();
      if (state.find) find.run();
      if (state.selected === null) selectWanted();
      else detail.show(state.trace.byId.get(state.selected));
      state.wanted = null;
      saveUrl();
      performance.mark('tracer:trace-loaded', { detail: { spans: state.trace.nodes.length } });
      // The linter's findings, now that every span they may name is in the tree.
      const labelOf = (spanId) => {
        const node = state.trace.byId.get(spanId);
        return node ? `${node.service} ${node.operation}` : spanId;
      };
      const onFindingSpan = (spanId) => {
        if (state.trace.byId.has(spanId)) select(spanId, true);
      };
      mount(panels, findingsPanel(id, { signal: ctx.signal, labelOf, select: onFindingSpan }));
      panels.hidden = false;
      // The critical path, a slice of the walk per task (a small trace's in this one).
      const walk = criticalPathWalk(state.trace);
      const slice = () => {
        if (gone) return;
        if (!walk.step(CRITICAL_STEPS)) {
          timer = setTimeout(slice, 0);
          return;
        }
        state.critical = walk.path;
        waterfall.refresh();
        if (state.selected) detail.show(state.trace.byId.get(state.selected));
        performance.mark('tracer:trace-critical');
      };
      slice();
    },
    failed(message) {
      clearTimeout(timer);
      done = true;
      header.progress(`${message}. Showing the ${builder.received.toLocaleString('en-US')} spans that arrived.`, true);
    },
    cleanup() {
      clearTimeout(timer);
      done = true;
      gone = true;
      find.destroy();
      unbindKey();
      waterfall.destroy();
    },
  };
}
