// Trace page, waterfall part: the time ruler and one row per span (virtualized, so a trace of
// 100,000 spans keeps only a screenful in the DOM), collapsible subtrees, the critical path
// drawn on the bars, and its toolbar controls (expand all, collapse all, critical path).
//
// It reads and writes the view's state (see trace.js): `collapsed`, `showCritical`, and reads
// `trace`, `critical`, `selected`, `matchSet`, `matches`, `current`.

import { h, on } from './dom.js';
import { formatDuration, serviceColor } from './format.js';
import { subtreeSizes, visibleRows } from './model.js';
import { VirtualList } from './vlist.js';

export const ROW_HEIGHT = 26;
const INDENT_PX = 14;
const MAX_INDENT_DEPTH = 40; // deeper spans stop moving right and show their depth instead
const TICKS = 5;

/**
 * Where a bar's duration label goes, for a bar at `left`% of the timeline and `width`% wide:
 * after the bar when there is room, else before it, else inside its end.
 * Returns `{side: 'left'|'right', at, inside}`: the label's CSS `side` offset is `at`%.
 */
export function labelPlacement(left, width) {
  if (left + width < 75) return { side: 'left', at: left + width, inside: false };
  if (left > 20) return { side: 'right', at: 100 - left, inside: false };
  return { side: 'right', at: 100 - left - width, inside: true };
}

/**
 * The waterfall of `state.trace`. `onSelect(spanId)` is called when a row is clicked (null
 * when the selected row is clicked again), `onChange()` when a setting kept in the URL changed.
 * Returns `{el, controls, relayout, refresh, reveal, update, destroy}`.
 */
export function createWaterfall(state, { onSelect, onChange }) {
  let subtree = subtreeSizes(state.trace.nodes);
  let rows = [];
  const ruler = h('div', { class: 'wf-ruler' });
  const list = new VirtualList({ rowHeight: ROW_HEIGHT, renderRow, className: 'wf-body' });
  list.el.id = 'waterfall-rows';
  const el = h(
    'div',
    { class: 'waterfall', id: 'waterfall' },
    h('div', { class: 'wf-header' }, h('div', { class: 'wf-name-head' }, 'Service & operation'), ruler),
    list.el,
  );

  function drawRuler() {
    ruler.replaceChildren();
    for (let i = 0; i < TICKS; i++) {
      const f = i / (TICKS - 1);
      ruler.appendChild(
        h(
          'span',
          {
            class: ['tick', i === 0 ? 'first' : i === TICKS - 1 ? 'last' : ''],
            style: { left: `${f * 100}%` },
          },
          formatDuration(state.trace.duration * f),
        ),
      );
    }
  }

  function renderRow(node) {
    const trace = state.trace;
    const span = Math.max(trace.duration, 1);
    const color = serviceColor(node.service);
    const collapsed = state.collapsed.has(node.id);
    const toggle = node.children.length
      ? h(
          'button',
          {
            type: 'button',
            class: 'toggle',
            'aria-expanded': String(!collapsed),
            'aria-label': collapsed ? 'Expand' : 'Collapse',
          },
          collapsed ? '▸' : '▾',
        )
      : h('span', { class: 'toggle-space' });
    const nameCell = h(
      'div',
      {
        class: 'wf-name',
        style: { 'padding-left': `${Math.min(node.depth, MAX_INDENT_DEPTH) * INDENT_PX + 4}px` },
        title: `${node.service}: ${node.operation}`,
      },
      toggle,
      h('span', { class: 'svc-mark', style: { 'background-color': color } }),
      h('span', { class: 'svc' }, node.service),
      h('span', { class: 'op' }, node.operation),
      node.error ? h('span', { class: 'err-icon', title: 'error' }, '!') : null,
      collapsed ? h('span', { class: 'hidden-count', title: 'spans hidden' }, `+${subtree[node.index] - 1}`) : null,
      node.depth > MAX_INDENT_DEPTH ? h('span', { class: 'deep' }, `depth ${node.depth}`) : null,
    );

    const left = ((node.start - trace.start) / span) * 100;
    const width = (node.duration / span) * 100;
    const bar = h('div', {
      class: ['wf-bar', node.error ? 'error' : ''],
      style: { left: `${left}%`, width: `${width}%`, 'background-color': color },
    });
    const segments = state.showCritical && state.critical ? state.critical.get(node.id) : null;
    if (segments) {
      const d = Math.max(node.duration, 1);
      for (const [a, b] of segments) {
        bar.appendChild(
          h('span', {
            class: 'crit',
            style: { left: `${((a - node.start) / d) * 100}%`, width: `${(Math.max(b - a, 0) / d) * 100}%` },
          }),
        );
      }
    }
    const place = labelPlacement(left, width);
    const label = h(
      'span',
      {
        class: ['wf-label', place.inside ? 'inside' : ''],
        style: { [place.side]: `calc(${place.at}% + 4px)` },
      },
      formatDuration(node.duration),
    );
    const current = state.current >= 0 && state.matches[state.current] === node;
    return h(
      'div',
      {
        class: [
          'wf-row',
          node.id === state.selected ? 'selected' : '',
          state.matchSet.has(node) ? 'match' : '',
          current ? 'current' : '',
          segments ? 'critical' : '',
          node.error ? 'error' : '',
        ],
        role: 'listitem',
        dataset: { spanId: node.id, depth: node.depth, service: node.service },
      },
      nameCell,
      h('div', { class: 'wf-timeline' }, bar, label),
    );
  }

  /** Rebuilds the rows (after a collapse or expand, or new spans). */
  function relayout() {
    rows = visibleRows(state.trace.nodes, state.collapsed, subtree);
    list.setItems(rows);
  }

  /** Expands the ancestors of node and scrolls its row into view. */
  function reveal(node) {
    let changed = false;
    for (let p = node.parent; p; p = p.parent) changed = state.collapsed.delete(p.id) || changed;
    if (changed) relayout();
    list.scrollToIndex(rows.indexOf(node));
  }

  /** The trace changed (more spans, or its final model): ruler, subtree sizes and rows. */
  function update() {
    subtree = subtreeSizes(state.trace.nodes);
    drawRuler();
    relayout();
  }

  // One listener for every row: the toggle collapses or expands, the rest of a row selects.
  on(list.el, 'click', '.wf-row', (e, row) => {
    const id = row.dataset.spanId;
    if (e.target.closest('.toggle')) {
      if (!state.collapsed.delete(id)) state.collapsed.add(id);
      relayout();
    } else {
      onSelect(id === state.selected ? null : id);
    }
  });

  const expandAll = h('button', { type: 'button', id: 'expand-all' }, 'Expand all');
  const collapseAll = h('button', { type: 'button', id: 'collapse-all' }, 'Collapse all');
  const criticalBox = h('input', { type: 'checkbox', id: 'critical-toggle', checked: state.showCritical });
  on(expandAll, 'click', () => {
    state.collapsed.clear();
    relayout();
  });
  on(collapseAll, 'click', () => {
    for (const n of state.trace.nodes) if (n.children.length) state.collapsed.add(n.id);
    list.el.scrollTop = 0;
    relayout();
  });
  on(criticalBox, 'change', () => {
    state.showCritical = criticalBox.checked;
    list.refresh();
    onChange();
  });
  const controls = [
    expandAll,
    collapseAll,
    h('label', { class: 'inline critical-label' }, criticalBox, ' Critical path'),
  ];

  drawRuler();
  return {
    el,
    controls,
    relayout,
    refresh: () => list.refresh(),
    reveal,
    update,
    destroy: () => list.destroy(),
  };
}
