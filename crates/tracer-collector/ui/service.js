// A service's RED metrics over time (#/service/{name}?lookback=1h): request rate, error rate and
// p50/p95/p99 latency of its server spans, as small multiples drawn in SVG with time on x. The
// numbers come from /api/metrics/* (Jaeger's metrics API, computed by the collector from stored
// spans); each point covers one step and links to a search for the traces of that step.

import * as api from './api.js';
import { h, mount, notice, on, s } from './dom.js';
import { formatDuration } from './format.js';
import { hashOf } from './route.js';

const LOOKBACKS = [
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
];
const LOOKBACK_MS = { '15m': 900000, '1h': 3600000, '6h': 21600000, '24h': 86400000 };
const POINTS = 60; // steps per chart
const W = 320;
const H = 120;
const PAD = { left: 48, right: 10, top: 10, bottom: 22 };

const CHARTS = [
  ['calls', 'Requests', (v) => `${v.toFixed(v < 1 ? 3 : 1)}/s`],
  ['errors', 'Error rate', (v) => `${(v * 100).toFixed(1)}%`],
  ['p50', 'p50 latency', (v) => formatDuration(v * 1000)],
  ['p95', 'p95 latency', (v) => formatDuration(v * 1000)],
  ['p99', 'p99 latency', (v) => formatDuration(v * 1000)],
];

/** The points of a metric family's first series as [timeMs, value]. */
function points(family) {
  const metric = (family.metrics || [])[0];
  return metric ? (metric.metricPoints || []).map((p) => [Date.parse(p.timestamp), p.gaugeValue.doubleValue]) : [];
}

function chart(key, title, fmt, pts, startMs, endMs, stepMs, service) {
  const max = Math.max(...pts.map((p) => p[1]), key === 'errors' ? 0.01 : 1e-9);
  const x = (t) => PAD.left + ((t - startMs) / Math.max(endMs - startMs, 1)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
  const dots = pts.map(([t, v]) => {
    const href = hashOf('/search', { service, start: (t - stepMs) * 1000, end: t * 1000 });
    return s(
      'a',
      { href, class: 'point', dataset: { t, v } },
      s('circle', { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3 }),
      s('title', {}, `${new Date(t).toISOString()}: ${fmt(v)}`),
    );
  });
  return h(
    'figure',
    { class: 'metric-chart', dataset: { metric: key } },
    h(
      'figcaption',
      {},
      title,
      ' ',
      h('span', { class: 'metric-last' }, pts.length ? fmt(pts[pts.length - 1][1]) : 'no data'),
    ),
    s(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': title },
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: 'axis' }),
      s('text', { x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end', class: 'tick' }, fmt(max)),
      s('text', { x: PAD.left - 4, y: H - PAD.bottom, 'text-anchor': 'end', class: 'tick' }, fmt(0)),
      s('text', { x: PAD.left, y: H - 6, class: 'tick' }, new Date(startMs).toLocaleTimeString()),
      s(
        'text',
        { x: W - PAD.right, y: H - 6, 'text-anchor': 'end', class: 'tick' },
        new Date(endMs).toLocaleTimeString(),
      ),
      pts.length ? s('path', { d: line, class: 'metric-line' }) : null,
      dots,
    ),
  );
}

export async function serviceView(main, service, params, ctx) {
  const lookback = LOOKBACK_MS[params.get('lookback')] ? params.get('lookback') : '1h';
  const lookbackMs = LOOKBACK_MS[lookback];
  const stepMs = Math.max(1000, Math.floor(lookbackMs / POINTS));
  const endMs = Math.ceil(Date.now() / stepMs) * stepMs;
  const startMs = endMs - lookbackMs;
  const select = h(
    'select',
    { id: 'service-lookback' },
    LOOKBACKS.map(([v, label]) => h('option', { value: v, selected: v === lookback }, label)),
  );
  on(select, 'change', () => ctx.go(hashOf(`/service/${encodeURIComponent(service)}`, { lookback: select.value })));
  const grid = h('div', { class: 'metric-grid', id: 'service-charts' }, notice('info', 'Loading metrics…'));
  mount(
    main,
    h(
      'section',
      { class: 'service-page' },
      h('h2', {}, 'Service ', h('span', { id: 'service-name' }, service)),
      h(
        'p',
        { class: 'hint' },
        'Server spans, each point one step of ',
        formatDuration(stepMs * 1000),
        '; click a point for its traces. ',
        h('a', { href: hashOf('/search', { service }) }, 'Search traces'),
        ' ',
        select,
      ),
      grid,
    ),
  );
  const q = `service=${encodeURIComponent(service)}&endTs=${endMs}&lookback=${lookbackMs}&step=${stepMs}&ratePer=${stepMs}`;
  const [calls, errors, p50, p95, p99] = await Promise.all([
    api.metrics('calls', q, ctx.signal),
    api.metrics('errors', q, ctx.signal),
    api.metrics('latencies', `${q}&quantile=0.5`, ctx.signal),
    api.metrics('latencies', `${q}&quantile=0.95`, ctx.signal),
    api.metrics('latencies', `${q}&quantile=0.99`, ctx.signal),
  ]);
  const data = { calls, errors, p50, p95, p99 };
  mount(
    grid,
    CHARTS.map(([key, title, fmt]) => chart(key, title, fmt, points(data[key]), startMs, endMs, stepMs, service)),
  );
}
