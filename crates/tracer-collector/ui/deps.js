// Dependency graph: services as nodes, calls between them as edges labelled with call and
// error counts, drawn as SVG. Call counts come from /api/dependencies; the API has no error
// counts, so they are counted here from the traces of the same window (see the note shown).

import * as api from './api.js';
import { h, mount, notice, s } from './dom.js';
import { parseGoDuration, serviceColor } from './format.js';
import { edgesFromTraces } from './model.js';
import { hashOf } from './route.js';

const LOOKBACKS = [['1h', 'Last hour'], ['6h', 'Last 6 hours'], ['24h', 'Last 24 hours'], ['48h', 'Last 2 days'], ['168h', 'Last 7 days']];
const ERROR_SAMPLE_LIMIT = 1000; // traces read (per service when searching service by service)
const NODE_W = 180;
const NODE_H = 46;
const COL_GAP = 130;
const ROW_GAP = 44;
const PAD = 30;

/**
 * Places services in columns, callers left of callees (longest path from a caller-only
 * service; edges that close a cycle are ignored for this), then orders each column to keep
 * edges short (barycentre sweeps). Returns Map name -> {x, y, layer}.
 */
export function layout(names, edges) {
  const out = new Map(names.map((n) => [n, []]));
  for (const e of edges) out.get(e.parent).push(e.child);
  for (const list of out.values()) list.sort();
  // Depth-first from services nobody calls (then from any unvisited one) marks back edges.
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
  // Longest path layering over the remaining (acyclic) edges, Kahn style.
  const layer = new Map(names.map((n) => [n, 0]));
  const forward = edges.filter((e) => !back.has(`${e.parent}\u0000${e.child}`));
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
  const columns = [];
  for (const n of [...names].sort()) {
    const l = layer.get(n);
    (columns[l] = columns[l] || []).push(n);
  }
  for (let l = 0; l < columns.length; l++) columns[l] = columns[l] || [];
  const position = new Map();
  const index = () => {
    for (const col of columns) col.forEach((n, i) => position.set(n, i));
  };
  index();
  const neighbours = (n, towards) => edges
    .filter((e) => (towards < 0 ? e.child === n && layer.get(e.parent) < layer.get(n) : e.parent === n && layer.get(e.child) > layer.get(n)))
    .map((e) => position.get(towards < 0 ? e.parent : e.child));
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? columns.keys() : [...columns.keys()].reverse();
    for (const l of order) {
      const bary = new Map(columns[l].map((n) => {
        const ps = neighbours(n, down ? -1 : 1);
        return [n, ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : position.get(n)];
      }));
      columns[l].sort((a, b) => bary.get(a) - bary.get(b) || a.localeCompare(b));
      index();
    }
  }
  const tallest = Math.max(...columns.map((c) => c.length), 1);
  const result = new Map();
  columns.forEach((col, l) => {
    const offset = ((tallest - col.length) * (NODE_H + ROW_GAP)) / 2;
    col.forEach((n, i) => result.set(n, {
      x: PAD + l * (NODE_W + COL_GAP), y: PAD + offset + i * (NODE_H + ROW_GAP), layer: l,
    }));
  });
  return { positions: result, columns: columns.length, tallest, back };
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

export async function depsView(main, params, ctx) {
  const lookback = LOOKBACKS.some(([v]) => v === params.get('lookback')) ? params.get('lookback') : '24h';
  const select = h('select', { id: 'deps-lookback', 'aria-label': 'Lookback' },
    LOOKBACKS.map(([v, label]) => h('option', { value: v, selected: v === lookback }, label)));
  select.addEventListener('change', () => ctx.go(hashOf('/deps', { lookback: select.value })));
  const body = h('div', { class: 'deps-body' }, h('div', { class: 'loading' }, 'Loading dependencies…'));
  mount(main, h('div', { class: 'deps-page' },
    h('div', { class: 'toolbar' }, h('h1', null, 'Service dependencies'), h('span', { class: 'spacer' }), select),
    body));

  const lookbackUs = parseGoDuration(lookback);
  const endMs = Date.now();
  let links;
  let sample;
  try {
    [links, sample] = await Promise.all([
      api.dependencies(endMs, Math.round(lookbackUs / 1000), ctx.signal),
      api.searchTraces({ service: '', lookbackUs, limit: ERROR_SAMPLE_LIMIT }, ctx.signal)
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
  const { positions, columns, tallest, back } = layout(names, edges);
  const width = PAD * 2 + columns * NODE_W + (columns - 1) * COL_GAP;
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP + 70;
  const maxCalls = Math.max(...edges.map((e) => e.calls));

  const svg = s('svg', {
    id: 'deps-graph', class: 'deps-graph', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-label': 'Service dependency graph',
  },
  s('defs', null,
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerUnits: 'userSpaceOnUse', markerWidth: '11', markerHeight: '11', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })),
    s('marker', { id: 'arrow-error', viewBox: '0 0 10 10', refX: '10', refY: '5', markerUnits: 'userSpaceOnUse', markerWidth: '11', markerHeight: '11', orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead error' }))));

  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  for (const e of edges) {
    const a = positions.get(e.parent);
    const b = positions.get(e.child);
    let d;
    let mid;
    const isBack = back.has(`${e.parent}\u0000${e.child}`) || b.layer <= a.layer;
    if (!isBack) {
      const p0 = [a.x + NODE_W, a.y + NODE_H / 2 - 6];
      const p3 = [b.x, b.y + NODE_H / 2 - 6];
      const dx = (p3[0] - p0[0]) / 2;
      d = `M${p0[0]},${p0[1]} C${p0[0] + dx},${p0[1]} ${p3[0] - dx},${p3[1]} ${p3[0]},${p3[1]}`;
      mid = [(p0[0] + p3[0]) / 2, (p0[1] + p3[1]) / 2];
    } else {
      // Calls back to an earlier column: an arc under the nodes, entering from below.
      const p0 = [a.x + NODE_W / 2 - 20, a.y + NODE_H];
      const p3 = [b.x + NODE_W / 2 + 20, b.y + NODE_H];
      const dip = Math.max(p0[1], p3[1]) + 48;
      d = `M${p0[0]},${p0[1]} C${p0[0]},${dip} ${p3[0]},${dip} ${p3[0]},${p3[1]}`;
      mid = [(p0[0] + p3[0]) / 2, (p0[1] + 3 * dip + 3 * dip + p3[1]) / 8];
    }
    const widthPx = 1.5 + 3 * Math.log1p(e.calls) / Math.log1p(maxCalls);
    const title = `${e.parent} → ${e.child}: ${e.calls} call${e.calls === 1 ? '' : 's'}, ${e.errors} error${e.errors === 1 ? '' : 's'}`;
    edgeLayer.appendChild(s('g', {
      class: ['edge', e.errors ? 'has-errors' : '', isBack ? 'back' : ''],
      dataset: { parent: e.parent, child: e.child, calls: e.calls, errors: e.errors },
    },
    s('title', null, title),
    s('path', { d, class: 'edge-line', 'stroke-width': widthPx.toFixed(2), 'marker-end': e.errors ? 'url(#arrow-error)' : 'url(#arrow)' })));
    const text = `${e.calls} call${e.calls === 1 ? '' : 's'}`;
    const err = e.errors ? ` · ${e.errors} err` : '';
    const w = (text.length + err.length) * 6.6 + 10;
    labelLayer.appendChild(s('g', { class: 'edge-label', transform: `translate(${mid[0]},${mid[1]})` },
      s('rect', { x: -w / 2, y: -9, width: w, height: 18, rx: 4 }),
      s('text', { 'text-anchor': 'middle', y: 4 }, text, err ? s('tspan', { class: 'err' }, err) : null)));
  }
  const nodeLayer = s('g', { class: 'nodes' });
  for (const name of names) {
    const p = positions.get(name);
    const node = s('g', { class: 'node', transform: `translate(${p.x},${p.y})`, dataset: { service: name }, tabindex: '0' },
      s('title', null, `${name} — click to search its traces`),
      s('rect', { width: NODE_W, height: NODE_H, rx: 8, class: 'node-box' }),
      s('rect', { width: 8, height: NODE_H, rx: 3, fill: serviceColor(name) }),
      s('text', { x: NODE_W / 2 + 4, y: NODE_H / 2 + 5, 'text-anchor': 'middle', class: 'node-name' }, truncate(name, 22)));
    const open = () => ctx.go(hashOf('/search', { service: name }));
    node.addEventListener('click', open);
    node.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    nodeLayer.appendChild(node);
  }
  svg.append(edgeLayer, nodeLayer, labelLayer);

  const sampledAll = edges.every((e) => e.sampled >= e.calls);
  const note = sample.failed
    ? `Error counts unavailable: ${sample.failed}`
    : sampledAll
      ? `Error counts from the ${sample.traces.length} traces of this window.`
      : `Error counts from the ${sample.traces.length} most recent traces of this window (not every call: see the "errors / calls read" column).`;
  const table = h('table', { class: 'deps-table', id: 'deps-table' },
    h('thead', null, h('tr', null, h('th', null, 'Caller'), h('th', null, 'Callee'), h('th', null, 'Calls'), h('th', null, 'Errors'), h('th', null, 'Errors / calls read'))),
    h('tbody', null, edges.map((e) => h('tr', { dataset: { parent: e.parent, child: e.child } },
      h('td', null, e.parent), h('td', null, e.child), h('td', { class: 'num' }, String(e.calls)),
      h('td', { class: ['num', e.errors ? 'status-error' : ''] }, String(e.errors)),
      h('td', { class: 'num' }, `${e.errors} / ${e.sampled}`)))));
  mount(body, h('div', { class: 'graph-wrap' }, svg), h('p', { class: 'muted note', id: 'deps-note' }, note), table);
  return null;
}
