// Trace page (#/trace/{id}?span=&find=&critical=): loads the trace and puts its parts together:
// the header (trace-header.js), the toolbar, the waterfall (trace-waterfall.js), the span
// detail (trace-detail.js) and the find box (trace-find.js). The parts share one state object,
// created here and passed to each; they talk to each other only through the callbacks below.

import * as api from './api.js';
import { h, mount, notice, on } from './dom.js';
import { buildTrace, criticalPath } from './model.js';
import { createSpanDetail } from './trace-detail.js';
import { createFind } from './trace-find.js';
import { createHeader } from './trace-header.js';
import { createWaterfall } from './trace-waterfall.js';

/**
 * The state of one trace view:
 * - trace, critical: the span tree (model.js buildTrace) and its critical path;
 * - selected: the id of the span shown in the detail panel, or null;
 * - collapsed: ids of the spans whose subtree is hidden;
 * - find, matches, matchSet, current: the find box's text, its matching nodes (tree order),
 *   the same as a Set, and the index of the current match (-1: none);
 * - showCritical: whether the critical path is drawn.
 */
export function initialState(trace, params) {
  return {
    trace,
    critical: criticalPath(trace),
    selected: trace.byId.has(params.get('span')) ? params.get('span') : null,
    collapsed: new Set(),
    find: params.get('find') || '',
    matches: [],
    matchSet: new Set(),
    current: -1,
    showCritical: params.get('critical') !== '0',
  };
}

export async function traceView(main, id, params, ctx) {
  mount(main, h('div', { class: 'loading' }, `Loading trace ${id}…`));
  let raw;
  try {
    raw = await api.trace(id, ctx.signal);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    const msg =
      e.status === 404
        ? `Trace ${id} was not found (it may be older than the store keeps, or the id is wrong).`
        : `Cannot load trace ${id}: ${e.message}`;
    mount(main, notice('error', msg));
    return null;
  }
  const state = initialState(buildTrace(raw), params);
  const saveUrl = () =>
    ctx.replaceParams({
      span: state.selected,
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
  // hidden until a part fills it.
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
  waterfall.relayout();
  if (state.find) find.run();
  if (state.selected) {
    const node = state.trace.byId.get(state.selected);
    waterfall.reveal(node);
    detail.show(node);
  }
  // User Timing marks for the first screen (read by the browser tests, visible in any
  // profiler): the rows are in the DOM, then the frame after the one that painted them.
  performance.mark('tracer:trace-rows', { detail: { spans: state.trace.nodes.length } });
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('tracer:trace-painted')));
  return () => {
    find.destroy();
    unbindKey();
    waterfall.destroy();
  };
}
