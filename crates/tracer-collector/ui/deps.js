// Dependency graph: services as nodes, calls between them as edges labelled with call and
// error counts, drawn as SVG. Call counts come from /api/dependencies; the API has no error
// counts, so they are counted here from the traces of the same window (see the note shown).

import * as api from './api.js';
import { h, mount, notice, on, s } from './dom.js';
import { formatCount, parseGoDuration, serviceColor } from './format.js';
import { edgesFromTraces } from './model.js';
import { hashOf } from './route.js';

const LOOKBACKS = [
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['48h', 'Last 2 days'],
  ['168h', 'Last 7 days'],
];
const ERROR_SAMPLE_LIMIT = 1000; // traces read (per service when searching service by service)
const NODE_W = 180;
const NODE_H = 46;
const LANE_H = 18; // the slot an edge takes when it crosses a column
const ROW_GAP = 44; // between two services of a column
const LANE_GAP = 14; // next to a crossing edge
const MIN_COL_GAP = 120;
const LABEL_H = 18;
const LABEL_SPACING = 22; // between the centres of two labels in one gap
const PORT_OFFSET = 7; // edges leave and enter a node above (calls) or below (call-backs) its middle
const PAD = 30;

const keyOf = (e) => `${e.parent}\u0000${e.child}`;

/** Marks the edges that close a cycle, by a depth-first walk from services nobody calls. */
function backEdges(names, edges) {
  const out = new Map(names.map((n) => [n, []]));
  for (const e of edges) out.get(e.parent).push(e.child);
  for (const list of out.values()) list.sort();
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const e of edges) indegree.set(e.child, indegree.get(e.child) + 1);
  const starts = [...names].sort((a, b) => indegree.get(a) - indegree.get(b) || a.localeCompare(b));
  const state = new Map();
  const back = new Set();
  for (const start of starts) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 'open');
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      const next = out.get(node)[i];
      if (next === undefined) {
        state.set(node, 'done');
        stack.pop();
        continue;
      }
      top[1]++;
      if (state.get(next) === 'open') back.add(`${node}\u0000${next}`);
      else if (!state.has(next)) {
        state.set(next, 'open');
        stack.push([next, 0]);
      }
    }
  }
  return back;
}

/** Longest-path layers over the edges that are not back edges (callers left of callees). */
function layers(names, edges, back) {
  const layer = new Map(names.map((n) => [n, 0]));
  const forward = edges.filter((e) => !back.has(keyOf(e)) && e.parent !== e.child);
  const inCount = new Map(names.map((n) => [n, 0]));
  for (const e of forward) inCount.set(e.child, inCount.get(e.child) + 1);
  const queue = names.filter((n) => inCount.get(n) === 0);
  while (queue.length) {
    const n = queue.shift();
    for (const e of forward) {
      if (e.parent !== n) continue;
      layer.set(e.child, Math.max(layer.get(e.child), layer.get(n) + 1));
      inCount.set(e.child, inCount.get(e.child) - 1);
      if (inCount.get(e.child) === 0) queue.push(e.child);
    }
  }
  return layer;
}

/**
 * A layered drawing of the service graph (the Sugiyama scheme), where no edge crosses a node
 * and no label covers one:
 *
 * 1. services go in columns, callers left of callees (longest path; the edges that close a
 *    cycle, call-backs, are routed as if reversed and drawn back);
 * 2. an edge that spans several columns gets a lane (a slot of its own) in each column it
 *    crosses, so it passes between the services of that column, never over one;
 * 3. each column is ordered to keep edges short (barycentre sweeps over services and lanes);
 * 4. between two columns an edge is a curve whose x only grows (or only shrinks), so it stays
 *    in the gap; in a column it runs straight along its lane;
 * 5. an edge's label sits in the gap next to its caller, and labels sharing a gap are spread
 *    apart; `colGap` is chosen by the caller to fit the widest label.
 *
 * `edges` are `{parent, child}`; returns node boxes, edge routes and label anchors.
 */
export function layout(names, edges, colGap = MIN_COL_GAP) {
  const back = backEdges(names, edges);
  const layer = layers(names, edges, back);
  // Chains of items (services and lanes) per edge, from its left end to its right end.
  const columns = [];
  const itemLayer = new Map();
  const add = (item, l) => {
    itemLayer.set(item, l);
    (columns[l] = columns[l] || []).push(item);
  };
  for (const n of [...names].sort()) add(n, layer.get(n));
  const chains = edges.map((e, i) => {
    if (e.parent === e.child) return null;
    const reversed = back.has(keyOf(e));
    const [left, right] = reversed ? [e.child, e.parent] : [e.parent, e.child];
    const chain = [left];
    for (let l = layer.get(left) + 1; l < layer.get(right); l++) {
      const lane = `\u0001${i}\u0001${l}`;
      add(lane, l);
      chain.push(lane);
    }
    chain.push(right);
    return { reversed, chain };
  });
  for (let l = 0; l < columns.length; l++) columns[l] = columns[l] || [];
  const isLane = (item) => item.startsWith('\u0001');
  const sides = new Map([...itemLayer.keys()].map((n) => [n, { before: [], after: [] }]));
  for (const c of chains) {
    if (!c) continue;
    for (let k = 0; k + 1 < c.chain.length; k++) {
      sides.get(c.chain[k]).after.push(c.chain[k + 1]);
      sides.get(c.chain[k + 1]).before.push(c.chain[k]);
    }
  }
  const position = new Map();
  const index = () => {
    for (const col of columns) col.forEach((n, i) => position.set(n, i));
  };
  index();
  for (let sweep = 0; sweep < 6; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? [...columns.keys()] : [...columns.keys()].reverse();
    for (const l of order) {
      const bary = new Map(
        columns[l].map((n) => {
          const ps = (down ? sides.get(n).before : sides.get(n).after).map((m) => position.get(m));
          return [n, ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : position.get(n)];
        }),
      );
      columns[l].sort((a, b) => bary.get(a) - bary.get(b) || position.get(a) - position.get(b));
      index();
    }
  }
  // Coordinates: items stacked in their column, columns centred on the tallest.
  const heightOf = (item) => (isLane(item) ? LANE_H : NODE_H);
  const stacked = columns.map((col) => {
    let y = 0;
    const tops = col.map((item, i) => {
      if (i > 0) y += isLane(item) || isLane(col[i - 1]) ? LANE_GAP : ROW_GAP;
      const top = y;
      y += heightOf(item);
      return top;
    });
    return { tops, height: y };
  });
  const tallest = Math.max(...stacked.map((c) => c.height), NODE_H);
  const colX = (l) => PAD + l * (NODE_W + colGap);
  const box = new Map();
  columns.forEach((col, l) => {
    const offset = (tallest - stacked[l].height) / 2;
    col.forEach((item, i) =>
      box.set(item, {
        x: colX(l),
        y: PAD + offset + stacked[l].tops[i],
        w: NODE_W,
        h: heightOf(item),
        layer: l,
      }),
    );
  });
  const positions = new Map(names.map((n) => [n, box.get(n)]));
  // Routes: a list of points; consecutive points in different columns are joined by a curve.
  const routes = edges.map((e, i) => {
    const c = chains[i];
    if (!c) {
      const b = box.get(e.parent);
      return {
        self: true,
        back: false,
        points: [
          [b.x + NODE_W, b.y + 12],
          [b.x + NODE_W, b.y + NODE_H - 12],
        ],
        gap: b.layer,
      };
    }
    const off = c.reversed ? PORT_OFFSET : -PORT_OFFSET;
    const points = [];
    c.chain.forEach((item, k) => {
      const b = box.get(item);
      const cy = isLane(item) ? b.y + LANE_H / 2 : b.y + NODE_H / 2 + off;
      if (k > 0) points.push([b.x, cy]);
      if (k + 1 < c.chain.length) points.push([b.x + NODE_W, cy]);
    });
    if (c.reversed) points.reverse();
    // The label goes in the gap next to the caller: the first gap of the drawn path.
    return { self: false, back: c.reversed, points, gap: c.reversed ? layer.get(e.parent) - 1 : layer.get(e.parent) };
  });
  // Labels: at the middle of the caller's gap curve, spread apart within each gap.
  const labels = routes.map((r) => {
    if (r.self) return { x: r.points[0][0] + colGap / 2 + 10, y: (r.points[0][1] + r.points[1][1]) / 2, gap: r.gap };
    const [p0, p1] = r.points;
    return { x: (p0[0] + p1[0]) / 2, y: (p0[1] + p1[1]) / 2, gap: r.gap };
  });
  const byGap = new Map();
  labels.forEach((lab) => (byGap.get(lab.gap) || byGap.set(lab.gap, []).get(lab.gap)).push(lab));
  let bottom = PAD + tallest;
  for (const group of byGap.values()) {
    group.sort((a, b) => a.y - b.y);
    for (let k = 1; k < group.length; k++) group[k].y = Math.max(group[k].y, group[k - 1].y + LABEL_SPACING);
    bottom = Math.max(bottom, group[group.length - 1].y + LABEL_H);
  }
  const lastLayer = columns.length - 1;
  const rightGap = routes.some((r) => r.self && r.gap === lastLayer) ? colGap : 0;
  return {
    positions,
    routes,
    labels,
    back,
    width: PAD * 2 + columns.length * NODE_W + lastLayer * colGap + rightGap,
    height: bottom + PAD,
  };
}

/** The SVG path through a route's points: curves across gaps, straight runs along lanes. */
export function routePath(route) {
  const [first, ...rest] = route.points;
  if (route.self) {
    const [a, b] = route.points;
    return `M${a[0]},${a[1]} C${a[0] + 36},${a[1] - 10} ${b[0] + 36},${b[1] + 10} ${b[0]},${b[1]}`;
  }
  let d = `M${first[0]},${first[1]}`;
  let prev = first;
  for (const p of rest) {
    const dx = (p[0] - prev[0]) / 2;
    const sameColumn = Math.abs(p[0] - prev[0]) === NODE_W && p[1] === prev[1];
    d += sameColumn ? ` L${p[0]},${p[1]}` : ` C${prev[0] + dx},${prev[1]} ${p[0] - dx},${p[1]} ${p[0]},${p[1]}`;
    prev = p;
  }
  return d;
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

export async function depsView(main, params, ctx) {
  const lookback = LOOKBACKS.some(([v]) => v === params.get('lookback')) ? params.get('lookback') : '24h';
  const select = h(
    'select',
    { id: 'deps-lookback', 'aria-label': 'Lookback' },
    LOOKBACKS.map(([v, label]) => h('option', { value: v, selected: v === lookback }, label)),
  );
  on(select, 'change', () => ctx.go(hashOf('/deps', { lookback: select.value })));
  const body = h('div', { class: 'deps-body' }, h('div', { class: 'loading' }, 'Loading dependencies…'));
  mount(
    main,
    h(
      'div',
      { class: 'deps-page' },
      h('div', { class: 'toolbar' }, h('h1', null, 'Service dependencies'), h('span', { class: 'spacer' }), select),
      body,
    ),
  );

  const lookbackUs = parseGoDuration(lookback);
  const endMs = Date.now();
  let links;
  let sample;
  try {
    [links, sample] = await Promise.all([
      api.dependencies(endMs, Math.round(lookbackUs / 1000), ctx.signal),
      api
        .searchTraces({ service: '', lookbackUs, limit: ERROR_SAMPLE_LIMIT }, ctx.signal)
        .catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : { traces: [], failed: e.message })),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(body, notice('error', `Cannot load dependencies: ${e.message}`));
    return null;
  }
  const counted = edgesFromTraces(sample.traces);
  const edges = links.map((l) => {
    const c = counted.get(`${l.parent}\u0000${l.child}`);
    return { parent: l.parent, child: l.child, calls: l.callCount, errors: c ? c.errors : 0, sampled: c ? c.calls : 0 };
  });
  if (!edges.length) {
    mount(body, notice('empty', 'No calls between services in this window.'));
    return null;
  }
  const names = [...new Set(edges.flatMap((e) => [e.parent, e.child]))].sort();
  const labelText = (e) => [
    `${formatCount(e.calls)} call${e.calls === 1 ? '' : 's'}`,
    e.errors ? ` · ${formatCount(e.errors)} err` : '',
  ];
  const labelWidth = (e) => labelText(e).join('').length * 6.6 + 10;
  const colGap = Math.max(MIN_COL_GAP, ...edges.map((e) => labelWidth(e) + 24));
  const { positions, routes, labels, width, height } = layout(names, edges, colGap);
  const maxCalls = Math.max(...edges.map((e) => e.calls));

  const svg = s(
    'svg',
    {
      id: 'deps-graph',
      class: 'deps-graph',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': 'Service dependency graph',
    },
    s(
      'defs',
      null,
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: '10',
          refY: '5',
          markerUnits: 'userSpaceOnUse',
          markerWidth: '11',
          markerHeight: '11',
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }),
      ),
      s(
        'marker',
        {
          id: 'arrow-error',
          viewBox: '0 0 10 10',
          refX: '10',
          refY: '5',
          markerUnits: 'userSpaceOnUse',
          markerWidth: '11',
          markerHeight: '11',
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead error' }),
      ),
    ),
  );

  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  edges.forEach((e, i) => {
    const route = routes[i];
    const widthPx = 1.5 + (3 * Math.log1p(e.calls)) / Math.log1p(maxCalls);
    const title = `${e.parent} → ${e.child}: ${e.calls} call${e.calls === 1 ? '' : 's'}, ${e.errors} error${e.errors === 1 ? '' : 's'} — click to search ${e.child}'s traces`;
    const edge = s(
      'g',
      {
        class: ['edge', e.errors ? 'has-errors' : '', route.back ? 'back' : '', route.self ? 'self' : ''],
        dataset: { parent: e.parent, child: e.child, calls: e.calls, errors: e.errors },
      },
      s('title', null, title),
      s('path', {
        d: routePath(route),
        class: 'edge-line',
        'stroke-width': widthPx.toFixed(2),
        'marker-end': e.errors ? 'url(#arrow-error)' : 'url(#arrow)',
      }),
    );
    edgeLayer.appendChild(edge);
    const [text, err] = labelText(e);
    const w = labelWidth(e);
    const label = s(
      'g',
      {
        class: 'edge-label',
        transform: `translate(${labels[i].x},${labels[i].y})`,
        dataset: { parent: e.parent, child: e.child },
        tabindex: '0',
      },
      s('title', null, title),
      s('rect', { x: -w / 2, y: -LABEL_H / 2, width: w, height: LABEL_H, rx: 4 }),
      s('text', { 'text-anchor': 'middle', y: 4 }, text, err ? s('tspan', { class: 'err' }, err) : null),
    );
    labelLayer.appendChild(label);
  });
  const nodeLayer = s('g', { class: 'nodes' });
  for (const name of names) {
    const p = positions.get(name);
    const node = s(
      'g',
      { class: 'node', transform: `translate(${p.x},${p.y})`, dataset: { service: name }, tabindex: '0' },
      s('title', null, `${name} — click to search its traces`),
      s('rect', { width: NODE_W, height: NODE_H, rx: 8, class: 'node-box' }),
      s('rect', { width: 8, height: NODE_H, rx: 3, fill: serviceColor(name) }),
      s(
        'text',
        { x: NODE_W / 2 + 4, y: NODE_H / 2 + 5, 'text-anchor': 'middle', class: 'node-name' },
        truncate(name, 22),
      ),
    );
    nodeLayer.appendChild(node);
  }
  svg.append(edgeLayer, nodeLayer, labelLayer);
  // An edge or its label searches the callee's traces, a node its own (click or Enter).
  const open = (el) => ctx.go(hashOf('/search', { service: el.dataset.child || el.dataset.service }));
  on(svg, 'click', '.edge, .edge-label, .node', (ev, el) => open(el));
  on(svg, 'keydown', '.edge-label, .node', (ev, el) => {
    if (ev.key === 'Enter') open(el);
  });

  const sampledAll = edges.every((e) => e.sampled >= e.calls);
  const note = sample.failed
    ? `Error counts unavailable: ${sample.failed}`
    : sampledAll
      ? `Error counts from the ${sample.traces.length} traces of this window.`
      : `Error counts from the ${sample.traces.length} most recent traces of this window (not every call: see the "errors / calls read" column).`;
  const table = h(
    'table',
    { class: 'deps-table', id: 'deps-table' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Caller'),
        h('th', null, 'Callee'),
        h('th', null, 'Calls'),
        h('th', null, 'Errors'),
        h('th', null, 'Errors / calls read'),
      ),
    ),
    h(
      'tbody',
      null,
      edges.map((e) =>
        h(
          'tr',
          { dataset: { parent: e.parent, child: e.child } },
          h('td', null, e.parent),
          h('td', null, e.child),
          h('td', { class: 'num' }, String(e.calls)),
          h('td', { class: ['num', e.errors ? 'status-error' : ''] }, String(e.errors)),
          h('td', { class: 'num' }, `${e.errors} / ${e.sampled}`),
        ),
      ),
    ),
  );
  mount(body, h('div', { class: 'graph-wrap' }, svg), h('p', { class: 'muted note', id: 'deps-note' }, note), table);
  return null;
}
