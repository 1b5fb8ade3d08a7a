// TraceBuilder (model.js), the tree built from a trace streamed in parts: whatever the order
// and the cut into parts, it ends with what buildTrace builds from the whole trace; in tree
// order it shows each part as soon as it arrives.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TraceBuilder, buildTrace, criticalPath, criticalPathWalk } from '../model.js';

/** A small deterministic PRNG (mulberry32), so every failure can be replayed by its seed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (i) => i.toString(16).padStart(16, '0');

function span(id, parent, service, start, duration, refType = 'CHILD_OF', tags = []) {
  return {
    traceID: 't1',
    spanID: id,
    operationName: `op-${id}`,
    references: parent ? [{ refType, traceID: 't1', spanID: parent }] : [],
    startTime: start,
    duration,
    tags,
    logs: [],
    processID: service,
  };
}

const PROCESSES = {
  p1: { serviceName: 'web', tags: [] },
  p2: { serviceName: 'api', tags: [] },
  p3: { serviceName: 'db', tags: [] },
};

/**
 * A random trace of n spans: mostly a tree (parents before or after children in the list),
 * with `odd` adding what real traces have at times: orphans, a span that is its own parent,
 * FOLLOWS_FROM first references, repeated ids, equal start times and a parent cycle.
 */
function randomTrace(seed, n, odd) {
  const r = rng(seed);
  const spans = [];
  for (let i = 1; i <= n; i++) {
    const parent = i === 1 ? null : hex(1 + Math.floor(r() * (i - 1)));
    const start = Math.floor(r() * 50) * 10; // coarse: many equal starts
    const tags = r() < 0.1 ? [{ key: 'otel.status_code', type: 'string', value: 'ERROR' }] : [];
    spans.push(span(hex(i), parent, `p${1 + Math.floor(r() * 3)}`, start, 5 + Math.floor(r() * 100), 'CHILD_OF', tags));
  }
  if (odd) {
    spans.push(span(hex(n + 1), hex(9999), 'p1', 3, 10)); // parent not in the trace
    spans.push(span(hex(n + 2), hex(n + 2), 'p2', 4, 10)); // its own parent
    spans.push(span(hex(n + 3), hex(1), 'p2', 6, 10, 'FOLLOWS_FROM')); // a link, not a parent
    spans.push(span(hex(2), hex(1), 'p3', 0, 1)); // a repeated id: ignored
    spans.push(span(hex(n + 4), hex(n + 5), 'p1', 40, 10)); // n+4 <-> n+5: a cycle
    spans.push(span(hex(n + 5), hex(n + 4), 'p1', 20, 10));
  }
  for (let i = spans.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [spans[i], spans[j]] = [spans[j], spans[i]];
  }
  return { traceID: 't1', spans, processes: PROCESSES };
}

/** Everything about a built trace that the views read. */
function shape(t) {
  return {
    nodes: t.nodes.map((n) => [
      n.id,
      n.index,
      n.depth,
      n.parent ? n.parent.id : null,
      n.missingParent,
      n.children.map((c) => c.id),
    ]),
    roots: t.roots.map((n) => n.id),
    root: t.root ? t.root.id : null,
    counts: [t.start, t.end, t.duration, t.depth, t.spanCount, t.errorCount],
    services: t.services,
    ids: [...t.byId.keys()].sort(),
  };
}

/** Feeds spans to a builder in parts of random sizes; returns the builder. */
function feed(spans, seed) {
  const r = rng(seed);
  const b = new TraceBuilder('t1', PROCESSES);
  for (let i = 0; i < spans.length;) {
    const size = 1 + Math.floor(r() * 40);
    b.add(spans.slice(i, i + size));
    i += size;
  }
  return b;
}

describe('TraceBuilder', () => {
  it("ends with buildTrace's tree for spans in any order, cut anywhere", () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const odd of [false, true]) {
        const raw = randomTrace(seed, 5 + seed * 7, odd);
        const expected = shape(buildTrace(raw));
        assert.deepEqual(shape(feed(raw.spans, seed).finish()), expected, `seed ${seed}, odd ${odd}, store order`);
        // In tree order (as the collector streams it): the same tree.
        const treeOrder = buildTrace(raw).nodes.map((n) => n.raw);
        assert.deepEqual(
          shape(feed(treeOrder, seed + 1000).finish()),
          expected,
          `seed ${seed}, odd ${odd}, tree order`,
        );
      }
    }
  });

  it('appends spans streamed in tree order as they come, each part a prefix of the final rows', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const raw = randomTrace(seed, 200, false);
      const final = buildTrace(raw);
      const ids = final.nodes.map((n) => n.id);
      const b = new TraceBuilder('t1', PROCESSES);
      for (let i = 0; i < ids.length; i += 16) {
        b.add(final.nodes.slice(i, i + 16).map((n) => n.raw));
        const now = b.snapshot();
        assert.equal(now.spanCount, Math.min(i + 16, ids.length), `seed ${seed}: every span so far is a row`);
        assert.deepEqual(
          now.nodes.map((n) => n.id),
          ids.slice(0, now.spanCount),
        );
      }
      assert.equal(b.ordered, true, `seed ${seed}: no reordering was needed`);
    }
  });

  it('shows a part in tree order with the counts of what has arrived', () => {
    const b = new TraceBuilder('t1', PROCESSES);
    b.add([span('a', null, 'p1', 0, 100), span('b', 'a', 'p2', 10, 20)]);
    let t = b.snapshot();
    assert.deepEqual([t.spanCount, t.depth, t.duration, t.root.id], [2, 2, 100, 'a']);
    b.add([
      span('c', 'b', 'p3', 12, 5, 'CHILD_OF', [{ key: 'error', type: 'bool', value: true }]),
      span('d', 'a', 'p2', 50, 60),
    ]);
    t = b.snapshot();
    assert.deepEqual([t.spanCount, t.depth, t.duration, t.errorCount], [4, 3, 110, 1]);
    assert.deepEqual(
      t.nodes.map((n) => `${n.id}${n.depth}`),
      ['a0', 'b1', 'c2', 'd1'],
    );
  });

  it('stops appending when a parent arrives after its child, and orders all at the end', () => {
    const b = new TraceBuilder('t1', PROCESSES);
    b.add([span('b', 'a', 'p2', 10, 20)]);
    assert.equal(b.snapshot().root.missingParent, true, 'until its parent comes, b is a root');
    b.add([span('a', null, 'p1', 0, 100)]);
    assert.equal(b.ordered, false);
    assert.equal(b.received, 2);
    const t = b.finish();
    assert.deepEqual(
      t.nodes.map((n) => `${n.id}${n.depth}`),
      ['a0', 'b1'],
    );
    assert.equal(t.byId.get('b').missingParent, false);
  });

  it('walks the same critical path in steps as in one go', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const t = buildTrace(randomTrace(seed, 150, seed % 2 === 0));
      const walk = criticalPathWalk(t);
      while (!walk.step(3));
      assert.deepEqual(walk.path, criticalPath(t), `seed ${seed}`);
    }
    // A chain of 10 nested spans: the walk goes down and back up, 3 spans per step.
    const chain = [];
    for (let i = 0; i < 10; i++) chain.push(span(`s${i}`, i ? `s${i - 1}` : null, 'p1', i * 10, 200 - i * 20));
    const t = buildTrace({ traceID: 't1', spans: chain, processes: PROCESSES });
    const walk = criticalPathWalk(t);
    let steps = 1;
    while (!walk.step(3)) steps++;
    assert.ok(steps >= 4, `${steps} steps`);
    assert.deepEqual(walk.path, criticalPath(t));
    assert.equal(walk.path.size, 10);
  });
});
