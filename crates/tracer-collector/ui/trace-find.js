// Trace page, find part: the search box over the trace's spans, its match count and the
// previous/next buttons (Enter, Shift+Enter). Matching itself is model.js's findSpans.
//
// It writes the view's state (see trace.js): `find`, `matches`, `matchSet`, `current`.

import { h, on } from './dom.js';
import { findSpans } from './model.js';

/**
 * The match to go to from `current` (-1: none yet) among `n` matches, one step in `direction`
 * (+1 next, -1 previous), wrapping around; -1 when there are none.
 */
export function stepIndex(current, n, direction) {
  if (!n) return -1;
  if (current < 0) return direction > 0 ? 0 : n - 1;
  return (current + direction + n) % n;
}

/** What the status next to the box says: nothing, "no match", "N matches" or "i of N". */
export function findStatusText(query, n, current) {
  if (!query.trim()) return '';
  if (!n) return 'no match';
  if (current < 0) return `${n} match${n === 1 ? '' : 'es'}`;
  return `${current + 1} of ${n}`;
}

/**
 * The find box over `state.trace`. `onMatches()` is called when the matches changed,
 * `onStep(node)` when the current match moved to node. Returns `{el, input, run, destroy}`:
 * `run()` searches again (after the trace changed).
 */
export function createFind(state, { onMatches, onStep }) {
  const input = h('input', {
    type: 'search',
    id: 'span-find',
    placeholder: 'Find spans (name, service, tag=value, id)',
    value: state.find,
    spellcheck: 'false',
    'aria-label': 'Find spans',
  });
  const status = h('span', { class: 'find-status', id: 'find-status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', id: 'find-prev', title: 'Previous match (Shift+Enter)' }, '↑');
  const next = h('button', { type: 'button', id: 'find-next', title: 'Next match (Enter)' }, '↓');
  const el = h('span', { class: 'find' }, input, status, prev, next);

  const showStatus = () => {
    status.textContent = findStatusText(state.find, state.matches.length, state.current);
  };

  function step(direction) {
    state.current = stepIndex(state.current, state.matches.length, direction);
    if (state.current < 0) return;
    onStep(state.matches[state.current]);
    showStatus();
  }

  /** Searches for the box's text; with moveTo (+1/-1), goes to the first or last match. */
  function run(moveTo) {
    state.find = input.value;
    state.matches = findSpans(state.trace, state.find);
    state.matchSet = new Set(state.matches);
    state.current = -1;
    if (moveTo !== undefined && state.matches.length) step(moveTo);
    showStatus();
    onMatches();
  }

  let timer = 0;
  on(input, 'input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(), 120);
  });
  // Clearing the box (its × button, or programmatically) may fire only these.
  for (const type of ['change', 'search']) {
    on(input, type, () => {
      if (input.value !== state.find) run();
    });
  }
  on(input, 'keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (input.value !== state.find) run(e.shiftKey ? -1 : 1);
      else step(e.shiftKey ? -1 : 1);
    }
  });
  on(prev, 'click', () => step(-1));
  on(next, 'click', () => step(1));

  return { el, input, run, destroy: () => clearTimeout(timer) };
}
