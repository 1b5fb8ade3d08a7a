// Unit tests of the UI's pure logic, with Node's built-in test runner (no packages):
//   node --test crates/tracer-collector/ui/test/
// scripts/test runs them. The browser tests (crates/tracer-collector/tests/ui_*.rs) cover the
// same code through the page; these pin the rules themselves, case by case.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  buildTrace,
  criticalPath,
  diffTraces,
  edgesFromTraces,
  findSpans,
  isError,
  summarize,
  traceName,
} from '../model.js';
import { formatCount, formatDuration, isGoDuration, parseGoDuration, tagText } from '../format.js';
import { hashOf } from '../route.js';
import { layout, routePath } from '../deps.js';

/** A Jaeger JSON span: [id, parent or null, service, operation, start µs, duration µs, tags]. */
function span(id, parent, service, operation, start, duration, tags = []) {
  return {
    traceID: 't1',
    spanID: id,
    operationName: operation,
    references: parent ? [{ refType: 'CHILD_OF', traceID: 't1', spanID: parent }] : [],
    startTime: start,
    duration,
    tags,
    logs: [],
    processID: service,
  };
}

function trace(spans) {
  const processes = {};
  for (const s of spans) processes[s.processID] = { serviceName: s.processID, tags: [] };
  return { traceID: 't1', spans, processes };
}

const error = [{ key: 'otel.status_code', type: 'string', value: 'ERROR' }];

describe('buildTrace', () => {
  it('builds the tree in pre-order with children by start time', () => {
    const t = buildTrace(
      trace([
        span('c', 'a', 'api', 'second', 50, 10),
        span('a', null, 'web', 'GET /', 0, 100),
        span('b', 'a', 'api', 'first', 10, 20),
        span('d', 'b', 'db', 'SELECT', 12, 5),
      ]),
    );
    assert.deepEqual(
      t.nodes.map((n) => [n.id, n.depth]),
      [
        ['a', 0],
        ['b', 1],
        ['d', 2],
        ['c', 1],
      ],
    );
    assert.equal(t.root.id, 'a');
    assert.equal(t.duration, 100);
    assert.equal(t.depth, 3);
    assert.deepEqual(
      t.services.map((s) => [s.name, s.count]),
      [
        ['api', 2],
        ['db', 1],
        ['web', 1],
      ],
    );
  });

  it('makes a span whose parent is absent a root, marked as such', () => {
    const t = buildTrace(trace([span('x', 'gone', 'api', 'orphan', 0, 10)]));
    assert.equal(t.roots.length, 1);
    assert.equal(t.root.missingParent, true);
    assert.deepEqual(traceName(t), { service: 'api', operation: 'orphan (missing root span)' });
  });

  it('prefers a true root over a longer orphan to name the trace', () => {
    const t = buildTrace(trace([span('o', 'gone', 'api', 'orphan', 0, 500), span('r', null, 'web', 'GET /', 10, 100)]));
    assert.equal(t.root.id, 'r');
  });

  it('places every span once when parents form a cycle or ids repeat', () => {
    const t = buildTrace(
      trace([
        span('a', 'b', 'svc', 'a', 0, 10),
        span('b', 'a', 'svc', 'b', 1, 10),
        span('b', null, 'svc', 'duplicate', 2, 10),
        span('s', 's', 'svc', 'self', 3, 1),
      ]),
    );
    assert.equal(t.spanCount, 3);
    assert.deepEqual(new Set(t.nodes.map((n) => n.id)), new Set(['a', 'b', 's']));
  });

  it('counts errors from otel.status_code and the error tag', () => {
    const t = buildTrace(
      trace([
        span('a', null, 'web', 'GET /', 0, 100, error),
        span('b', 'a', 'api', 'x', 1, 1, [{ key: 'error', type: 'bool', value: true }]),
        span('c', 'a', 'api', 'y', 2, 1),
      ]),
    );
    assert.equal(t.errorCount, 2);
    assert.equal(isError(t.byId.get('c').raw), false);
    assert.deepEqual(
      t.services.map((s) => [s.name, s.errors]),
      [
        ['api', 1],
        ['web', 1],
      ],
    );
  });

  it('summarizes an empty trace without failing', () => {
    const s = summarize({ traceID: 'e', spans: [], processes: {} });
    assert.deepEqual([s.spanCount, s.duration, s.name.operation], [0, 0, '(empty trace)']);
  });
});

describe('criticalPath', () => {
  it('follows the last-finishing child, then the work before it', () => {
    // root 0..100; a 10..25; b 30..90 (ends last); b's child c 40..80.
    const t = buildTrace(
      trace([
        span('root', null, 'web', 'GET /', 0, 100),
        span('a', 'root', 'api', 'a', 10, 15),
        span('b', 'root', 'api', 'b', 30, 60),
        span('c', 'b', 'db', 'c', 40, 40),
      ]),
    );
    const path = criticalPath(t);
    assert.deepEqual(path.get('root'), [
      [90, 100],
      [25, 30],
      [0, 10],
    ]);
    assert.deepEqual(path.get('b'), [
      [80, 90],
      [30, 40],
    ]);
    assert.deepEqual(path.get('c'), [[40, 80]]);
    assert.deepEqual(path.get('a'), [[10, 25]]);
  });

  it('leaves off a sibling that was still running when the path span started', () => {
    const t = buildTrace(
      trace([
        span('root', null, 'web', 'GET /', 0, 100),
        span('a', 'root', 'api', 'a', 10, 30), // ends at 40, after b started
        span('b', 'root', 'api', 'b', 30, 60),
      ]),
    );
    const path = criticalPath(t);
    assert.equal(path.has('a'), false);
    assert.deepEqual(path.get('root'), [
      [90, 100],
      [0, 30],
    ]);
  });

  it('leaves a child that overlaps the path entirely off it', () => {
    const t = buildTrace(
      trace([
        span('root', null, 'web', 'GET /', 0, 100),
        span('long', 'root', 'api', 'long', 0, 95),
        span('short', 'root', 'api', 'short', 10, 20),
      ]),
    );
    const path = criticalPath(t);
    assert.equal(path.has('short'), false);
    assert.deepEqual(path.get('long'), [[0, 95]]);
  });

  it('is empty for an empty trace', () => {
    assert.equal(criticalPath(buildTrace({ traceID: 'e', spans: [], processes: {} })).size, 0);
  });
});

describe('findSpans', () => {
  it('needs every term, matched case-insensitively in names and key=value tags', () => {
    const t = buildTrace(
      trace([
        span('a', null, 'web', 'GET /checkout', 0, 100, [{ key: 'http.route', type: 'string', value: '/checkout' }]),
        span('b', 'a', 'payments', 'POST /charge', 5, 10, [{ key: 'http.route', type: 'string', value: '/charge' }]),
      ]),
    );
    assert.deepEqual(
      findSpans(t, 'PAYMENTS').map((n) => n.id),
      ['b'],
    );
    assert.deepEqual(
      findSpans(t, 'http.route=/checkout web').map((n) => n.id),
      ['a'],
    );
    assert.deepEqual(findSpans(t, 'web payments'), []);
    assert.deepEqual(findSpans(t, '   '), []);
  });
});

describe('diffTraces', () => {
  const base = trace([
    span('r', null, 'web', 'GET /', 0, 1000),
    span('x', 'r', 'api', 'charge', 10, 500),
    span('y', 'r', 'api', 'stock', 20, 100),
  ]);
  it('marks changed, missing and added spans by position and name', () => {
    const b = trace([
      span('r', null, 'web', 'GET /', 0, 1000),
      span('x', 'r', 'api', 'charge', 10, 900),
      span('z', 'r', 'api', 'fraud', 30, 100),
    ]);
    const d = diffTraces(buildTrace(base), buildTrace(b));
    assert.deepEqual(
      d.rows.map((r) => [r.operation, r.status]),
      [
        ['GET /', 'same'],
        ['charge', 'changed'],
        ['stock', 'missing'],
        ['fraud', 'added'],
      ],
    );
    assert.deepEqual(d.counts, { same: 1, changed: 1, missing: 1, added: 1 });
  });
  it('calls a move under the threshold or under 50 µs the same', () => {
    const b = trace([
      span('r', null, 'web', 'GET /', 0, 1040),
      span('x', 'r', 'api', 'charge', 10, 540),
      span('y', 'r', 'api', 'stock', 20, 140),
    ]);
    assert.deepEqual(diffTraces(buildTrace(base), buildTrace(b)).counts, { same: 3, changed: 0, missing: 0, added: 0 });
  });
});

describe('edgesFromTraces', () => {
  it('counts calls between services and the failed ones, not calls within one', () => {
    const edges = edgesFromTraces([
      trace([
        span('a', null, 'web', 'GET /', 0, 100),
        span('b', 'a', 'api', 'x', 1, 10, error),
        span('c', 'a', 'api', 'y', 2, 10),
        span('d', 'c', 'api', 'inner', 3, 1),
      ]),
    ]);
    assert.deepEqual([...edges.values()], [{ parent: 'web', child: 'api', calls: 2, errors: 1 }]);
  });
});

describe('format', () => {
  it('formats durations with their unit', () => {
    assert.equal(formatDuration(1.234), '1.23µs');
    assert.equal(formatDuration(1234), '1.23ms');
    assert.equal(formatDuration(2_500_000), '2.5s');
    assert.equal(formatDuration(90_000_000), '1m30s');
    assert.equal(formatDuration(NaN), '-');
  });
  it('shortens counts for labels', () => {
    assert.deepEqual([950, 9999, 12345, 4_500_000].map(formatCount), ['950', '9999', '12.3k', '4.5M']);
  });
  it('parses Go durations and rejects the rest', () => {
    assert.equal(parseGoDuration('1h30m'), 5400e6);
    assert.equal(parseGoDuration('1.5ms'), 1500);
    assert.equal(isGoDuration('10'), false);
    assert.ok(Number.isNaN(parseGoDuration('soon')));
  });
  it('shows tag values as text', () => {
    assert.deepEqual([tagText(null), tagText(true), tagText({ a: 1 })], ['', 'true', '{"a":1}']);
  });
  it('builds hash routes without empty parameters', () => {
    assert.equal(hashOf('/search', { service: 'web', limit: '', tags: null }), '#/search?service=web');
  });
});

describe('dependency layout', () => {
  const edges = [
    ['client', 'server1'],
    ['server1', 'server2'],
    ['server2', 'server3'],
    ['server3', 'server2'],
    ['server2', 'server1'],
    ['server1', 'server3'],
  ].map(([parent, child]) => ({ parent, child }));
  const names = ['client', 'server1', 'server2', 'server3'];

  it('puts callers left of callees and marks call-backs', () => {
    const { positions, back } = layout(names, edges);
    const x = (n) => positions.get(n).x;
    assert.ok(x('client') < x('server1') && x('server1') < x('server2') && x('server2') < x('server3'));
    assert.deepEqual([...back].sort(), ['server2\u0000server1', 'server3\u0000server2']);
  });

  it('gives an edge that skips a column a lane clear of the skipped service', () => {
    const { positions, routes } = layout(names, edges);
    const skip = routes[edges.findIndex((e) => e.parent === 'server1' && e.child === 'server3')];
    const s2 = positions.get('server2');
    // Along server2's column the edge is straight and outside server2's box.
    const inColumn = skip.points.filter(([px]) => px >= s2.x && px <= s2.x + s2.w);
    assert.equal(inColumn.length, 2);
    for (const [, py] of inColumn) assert.ok(py < s2.y || py > s2.y + s2.h, `lane at ${py} crosses server2`);
    assert.match(routePath(skip), / L/);
  });

  it('keeps every label in a gap between columns, apart from the others', () => {
    const colGap = 140;
    const { positions, labels } = layout(names, edges, colGap);
    const boxes = [...positions.values()];
    for (const l of labels) {
      for (const b of boxes) {
        const clear = l.x + (colGap - 24) / 2 <= b.x || l.x - (colGap - 24) / 2 >= b.x + b.w;
        assert.ok(clear, `label at ${l.x},${l.y} over the box at ${b.x},${b.y}`);
      }
    }
    const byGap = new Map();
    for (const l of labels) byGap.set(l.gap, [...(byGap.get(l.gap) || []), l.y]);
    for (const ys of byGap.values()) {
      ys.sort((a, b) => a - b);
      for (let i = 1; i < ys.length; i++) assert.ok(ys[i] - ys[i - 1] >= 18, `labels ${ys} overlap`);
    }
  });
});
