// Compare two traces: a structural diff of B against A. Spans are matched by position in the
// tree (same parent, same service and operation, n-th of that name); rows show spans missing
// from B, added in B, or whose duration changed.

import * as api from './api.js';
import { h, mount, notice, on, serviceBadge } from './dom.js';
import { formatDuration, serviceColor } from './format.js';
import { buildTrace, diffTraces, traceName } from './model.js';
import { hashOf, traceHash } from './route.js';
import { VirtualList } from './vlist.js';

const ROW_HEIGHT = 26;
const STATUS_TEXT = { same: 'same', changed: 'changed', missing: 'missing in B', added: 'added in B' };

function traceCard(label, t, id) {
  const name = traceName(t);
  return h(
    'div',
    { class: 'compare-card', id },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-title' }, name.service ? serviceBadge(name.service) : null, ' ', name.operation),
    h('a', { class: 'mono', href: traceHash(t.id) }, t.id),
    h(
      'div',
      { class: 'muted' },
      `${formatDuration(t.duration)} · ${t.spanCount} spans · ${t.errorCount} errors · depth ${t.depth}`,
    ),
  );
}

function delta(a, b) {
  const d = b - a;
  const pct = a > 0 ? ` (${d >= 0 ? '+' : ''}${Math.round((d / a) * 100)}%)` : '';
  return `${d >= 0 ? '+' : '−'}${formatDuration(Math.abs(d))}${pct}`;
}

export async function compareView(main, a, b, params, ctx) {
  const inputA = h('input', {
    id: 'compare-a',
    type: 'text',
    value: a,
    placeholder: 'Trace ID A',
    spellcheck: 'false',
    'aria-label': 'Trace A',
  });
  const inputB = h('input', {
    id: 'compare-b',
    type: 'text',
    value: b,
    placeholder: 'Trace ID B',
    spellcheck: 'false',
    'aria-label': 'Trace B',
  });
  const form = h(
    'form',
    { class: 'compare-form toolbar', id: 'compare-form' },
    h('h1', null, 'Compare traces'),
    inputA,
    h('span', null, 'vs'),
    inputB,
    h('button', { type: 'submit', class: 'primary' }, 'Compare'),
  );
  on(form, 'submit', (e) => {
    e.preventDefault();
    const x = inputA.value.trim();
    const y = inputB.value.trim();
    if (x && y) ctx.go(`#/compare/${encodeURIComponent(x)}/${encodeURIComponent(y)}`);
  });
  const body = h('div', { class: 'compare-body' });
  mount(main, h('div', { class: 'compare-page' }, form, body));
  if (!a || !b) {
    mount(body, notice('empty', 'Enter two trace IDs, or tick two traces in the search results and press "Compare".'));
    (a ? inputB : inputA).focus();
    return null;
  }
  mount(body, h('div', { class: 'loading' }, 'Loading traces…'));
  let rawA;
  let rawB;
  try {
    [rawA, rawB] = await Promise.all([api.trace(a, ctx.signal), api.trace(b, ctx.signal)]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(body, notice('error', `Cannot load traces: ${e.message}`));
    return null;
  }
  const ta = buildTrace(rawA);
  const tb = buildTrace(rawB);
  const thresholdPct = Math.min(1000, Math.max(1, Number(params.get('threshold')) || 10));
  const { rows, counts } = diffTraces(ta, tb, thresholdPct / 100);
  let onlyDiff = params.get('only') === '1';

  const onlyBox = h('input', { type: 'checkbox', id: 'compare-only', checked: onlyDiff });
  const threshold = h('input', {
    type: 'number',
    id: 'compare-threshold',
    min: '1',
    max: '1000',
    value: String(thresholdPct),
    'aria-label': 'Threshold percent',
  });
  const summary = h(
    'div',
    { class: 'compare-summary', id: 'compare-summary' },
    ['missing', 'added', 'changed', 'same'].map((k) =>
      h(
        'span',
        { class: ['chip', `st-${k}`], dataset: { status: k, count: counts[k] } },
        `${counts[k]} ${STATUS_TEXT[k]}`,
      ),
    ),
    h('span', { class: 'spacer' }),
    h('label', { class: 'inline' }, onlyBox, ' Only differences'),
    h('label', { class: 'inline' }, 'Changed when duration moves ≥ ', threshold, '%'),
  );

  const maxDur = Math.max(ta.duration, tb.duration, 1);
  const list = new VirtualList({ rowHeight: ROW_HEIGHT, renderRow, className: 'compare-rows' });
  list.el.id = 'compare-rows';
  function bar(node, offset, cls) {
    if (!node) return h('div', { class: 'cmp-track' });
    return h(
      'div',
      { class: 'cmp-track' },
      h('span', {
        class: ['cmp-bar', cls],
        style: { left: `${(offset / maxDur) * 100}%`, width: `${Math.max((node.duration / maxDur) * 100, 0.3)}%` },
      }),
    );
  }
  function renderRow(r) {
    return h(
      'div',
      {
        class: ['cmp-row', `st-${r.status}`],
        dataset: { status: r.status, service: r.service, operation: r.operation },
      },
      h(
        'div',
        {
          class: 'cmp-name',
          style: { 'padding-left': `${Math.min(r.depth, 40) * 14 + 6}px` },
          title: `${r.service}: ${r.operation}`,
        },
        h('span', { class: 'svc-mark', style: { 'background-color': serviceColor(r.service) } }),
        h('span', { class: 'svc' }, r.service),
        h('span', { class: 'op' }, r.operation),
      ),
      h('div', { class: 'cmp-dur a' }, r.a ? formatDuration(r.a.duration) : '—'),
      h('div', { class: 'cmp-dur b' }, r.b ? formatDuration(r.b.duration) : '—'),
      h(
        'div',
        { class: 'cmp-delta' },
        r.a && r.b && r.a.duration !== r.b.duration ? delta(r.a.duration, r.b.duration) : '',
      ),
      h('div', { class: 'cmp-status' }, STATUS_TEXT[r.status]),
      h('div', { class: 'cmp-bars' }, bar(r.a, r.offsetA, 'a'), bar(r.b, r.offsetB, 'b')),
    );
  }
  const draw = () => list.setItems(onlyDiff ? rows.filter((r) => r.status !== 'same') : rows);
  on(onlyBox, 'change', () => {
    onlyDiff = onlyBox.checked;
    ctx.replaceParams({ only: onlyDiff ? '1' : '', threshold: thresholdPct === 10 ? '' : thresholdPct });
    draw();
  });
  on(threshold, 'change', () => {
    ctx.go(
      hashOf(`/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`, {
        only: onlyDiff ? '1' : '',
        threshold: threshold.value,
      }),
    );
  });

  mount(
    body,
    h('div', { class: 'compare-cards' }, traceCard('A', ta, 'compare-card-a'), traceCard('B', tb, 'compare-card-b')),
    summary,
    h(
      'div',
      { class: 'cmp-table' },
      h(
        'div',
        { class: 'cmp-head' },
        h('div', { class: 'cmp-name' }, 'Span (service, operation)'),
        h('div', { class: 'cmp-dur' }, 'A'),
        h('div', { class: 'cmp-dur' }, 'B'),
        h('div', { class: 'cmp-delta' }, 'B − A'),
        h('div', { class: 'cmp-status' }, 'Status'),
        h(
          'div',
          { class: 'cmp-bars' },
          h('span', { class: 'legend a' }, 'A'),
          ' ',
          h('span', { class: 'legend b' }, 'B'),
        ),
      ),
      list.el,
    ),
  );
  draw();
  return () => list.destroy();
}
