// Unit tests of the trace page's logic that lives outside the DOM (node --test, no packages):
// self time, subtree sizes and visible rows (model.js), the waterfall's label placement, the
// find box's stepping and status, the detail panel's critical time and the view's initial state.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildTrace, criticalPath, selfTime, subtreeSizes, visibleRows } from '../model.js';
import { labelPlacement } from '../trace-waterfall.js';
import { findStatusText, stepIndex } from '../trace-find.js';
import { criticalTime } from '../trace-detail.js';
import { traceMeta } from '../trace-header.js';
import { completeState, initialState } from '../trace.js';

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

// a(0-100) -> b(10-40) -> d(12-17), a -> c(30-60, overlaps b), a -> e(90-130, past a's end)
const tree = () =>
  buildTrace(
    trace([
      span('a', null, 'web', 'GET /', 0, 100),
      span('b', 'a', 'api', 'b', 10, 30),
      span('d', 'b', 'db', 'd', 12, 5),
      span('c', 'a', 'api', 'c', 30, 30),
      span('e', 'a', 'api', 'e', 90, 40),
    ]),
  );

describe('selfTime', () => {
  it('counts overlapping children once and clips children to the span', () => {
    const t = tree();
    // a's children cover 10-60 and 90-100 (e clipped at a's end): 60 µs covered.
    assert.equal(selfTime(t.byId.get('a')), 40);
    assert.equal(selfTime(t.byId.get('b')), 25);
  });

  it('is the whole duration of a leaf', () => {
    assert.equal(selfTime(tree().byId.get('d')), 5);
  });
});

describe('subtreeSizes and visibleRows', () => {
  it('sizes each subtree, itself included, by tree-order index', () => {
    const t = tree();
    assert.deepEqual(
      t.nodes.map((n) => n.id),
      ['a', 'b', 'd', 'c', 'e'],
    );
    assert.deepEqual([...subtreeSizes(t.nodes)], [5, 2, 1, 1, 1]);
  });

  it('skips the descendants of collapsed spans and nothing else', () => {
    const t = tree();
    const sizes = subtreeSizes(t.nodes);
    assert.equal(visibleRows(t.nodes, new Set(), sizes), t.nodes, 'nothing collapsed: the same array');
    assert.deepEqual(
      visibleRows(t.nodes, new Set(['b']), sizes).map((n) => n.id),
      ['a', 'b', 'c', 'e'],
    );
    assert.deepEqual(
      visibleRows(t.nodes, new Set(['a', 'b']), sizes).map((n) => n.id),
      ['a'],
    );
    assert.deepEqual(visibleRows(t.nodes, new Set(['d']), sizes).length, 5, 'a leaf hides nothing');
  });
});

describe('waterfall label placement', () => {
  it('puts the duration after the bar when it fits', () => {
    assert.deepEqual(labelPlacement(10, 20), { side: 'left', at: 30, inside: false });
  });

  it('puts it before a bar that ends near the right edge', () => {
    assert.deepEqual(labelPlacement(60, 30), { side: 'right', at: 40, inside: false });
  });

  it('puts it inside a bar that fills the timeline', () => {
    assert.deepEqual(labelPlacement(0, 100), { side: 'right', at: 0, inside: true });
  });
});

describe('find stepping and status', () => {
  it('starts at the first or last match and wraps around', () => {
    assert.equal(stepIndex(-1, 3, 1), 0);
    assert.equal(stepIndex(-1, 3, -1), 2);
    assert.equal(stepIndex(2, 3, 1), 0);
    assert.equal(stepIndex(0, 3, -1), 2);
    assert.equal(stepIndex(1, 3, 1), 2);
    assert.equal(stepIndex(-1, 0, 1), -1, 'no matches: nowhere to go');
  });

  it('says how many matched and which one is current', () => {
    assert.equal(findStatusText('  ', 0, -1), '');
    assert.equal(findStatusText('x', 0, -1), 'no match');
    assert.equal(findStatusText('x', 1, -1), '1 match');
    assert.equal(findStatusText('x', 4, -1), '4 matches');
    assert.equal(findStatusText('x', 4, 2), '3 of 4');
  });
});

describe('span detail critical time', () => {
  it("adds up the span's segments on the path and says when it is off it", () => {
    const t = tree();
    const critical = criticalPath(t);
    // e ends after a, so it is not on a's path: a from c's end to its own (40), c (30), then a
    // before c (30); b was still running when c started and is left off.
    assert.equal(criticalTime(critical, t.byId.get('c')), 30);
    assert.equal(criticalTime(critical, t.byId.get('a')), 70);
    assert.equal(criticalTime(critical, t.byId.get('b')), null);
    assert.equal(criticalTime(null, t.byId.get('a')), null, 'no critical path computed yet');
  });
});

describe('trace header and view state', () => {
  it('counts what the header shows', () => {
    const meta = Object.fromEntries(traceMeta(tree()).map(([, value, id]) => [id, value]));
    assert.equal(meta['meta-spans'], '5');
    assert.equal(meta['meta-depth'], '3');
    assert.equal(meta['meta-services'], '3');
    assert.equal(meta['meta-errors'], '0');
  });

  it('takes the wanted span, find text and critical flag from the URL', () => {
    const state = initialState(tree(), new URLSearchParams('span=c&find=api&critical=0'));
    assert.equal(state.wanted, 'c', 'selected once it has arrived');
    assert.equal(state.selected, null);
    assert.equal(state.find, 'api');
    assert.equal(state.showCritical, false);
    assert.equal(state.critical, null, 'no critical path before the whole trace is in');
    assert.equal(initialState(tree(), new URLSearchParams('')).showCritical, true);
  });

  it('takes the final tree when complete and drops a selection not in the trace', () => {
    const state = initialState(tree(), new URLSearchParams(''));
    state.selected = 'zz';
    const final = tree();
    completeState(state, final);
    assert.equal(state.complete, true);
    assert.equal(state.trace, final);
    assert.equal(state.selected, null);
    assert.equal(state.critical, null, 'the critical path is walked after, in slices');
  });
});
