// "What got slower": two sets of traces compared per operation path (`/api/regressions`).
// The sets are two time windows (the last `window` against the one before it, optionally of one
// service) or two lists of trace ids, such as the traces of two uploaded files. Slower paths come
// biggest p95 increase first, each with a link to a typical trace of each side side by side;
// faster ones follow, folded; unchanged ones are only counted.
//   #/slower?service=&window=30m
//   #/slower?before={id,id}&after={id,id}

import * as api from './api.js';
import { h, mount, notice, on } from './dom.js';
import { formatDuration, isGoDuration } from './format.js';
import { hashOf } from './route.js';

const ms = (v) => formatDuration(Math.round(v * 1000));

function pathCell(path) {
  const parts = path.split(' / ');
  const last = parts.pop();
  return h(
    'td',
    { class: 'rg-path', title: path },
    parts.length ? h('span', { class: 'muted' }, `${parts.join(' / ')} / `) : null,
    h('strong', null, last),
  );
}

function changeTable(changes, id) {
  return h(
    'table',
    { class: 'rg-table', id },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Operation path'),
        h('th', null, 'Before p50 / p95 (n)'),
        h('th', null, 'After p50 / p95 (n)'),
        h('th', null, 'Δ p95'),
        h('th', null, 'Δ p50'),
        h('th', null, 'Traces'),
      ),
    ),
    h(
      'tbody',
      null,
      changes.map((c) =>
        h(
          'tr',
          { class: 'rg-row', dataset: { path: c.path } },
          pathCell(c.path),
          h('td', { class: 'num' }, `${ms(c.before.p50Ms)} / ${ms(c.before.p95Ms)} (${c.before.count})`),
          h('td', { class: 'num' }, `${ms(c.after.p50Ms)} / ${ms(c.after.p95Ms)} (${c.after.count})`),
          h('td', { class: ['num', 'rg-delta'] }, `${c.p95DeltaMs >= 0 ? '+' : '−'}${ms(Math.abs(c.p95DeltaMs))}`),
          h('td', { class: 'num' }, `${c.p50DeltaMs >= 0 ? '+' : '−'}${ms(Math.abs(c.p50DeltaMs))}`),
          h(
            'td',
            null,
            h(
              'a',
              {
                class: 'rg-pair',
                href: `#/compare/${encodeURIComponent(c.exampleBefore.traceID)}/${encodeURIComponent(c.exampleAfter.traceID)}`,
                title: `A typical trace of each side: ${c.exampleBefore.traceID} (${ms(c.exampleBefore.durationMs)}) vs ${c.exampleAfter.traceID} (${ms(c.exampleAfter.durationMs)})`,
              },
              'Compare a pair',
            ),
          ),
        ),
      ),
    ),
  );
}

function setText(set, read) {
  const what = set.traceIDs
    ? `${set.traceIDs.length} trace IDs`
    : `${new Date(set.start / 1000).toLocaleString()} – ${new Date(set.end / 1000).toLocaleString()}`;
  return `${what}: ${read.traces} traces, ${read.spans} spans${read.truncated ? ' (stopped at a limit)' : ''}`;
}

export async function regressView(main, params, ctx) {
  const services = await api.services(ctx.signal).catch(() => []);
  const serviceSel = h(
    'select',
    { id: 'rg-service', 'aria-label': 'Service' },
    h('option', { value: '' }, 'All services'),
    services.map((s) => h('option', { value: s, selected: s === params.get('service') }, s)),
  );
  const windowInput = h('input', {
    id: 'rg-window',
    type: 'text',
    value: params.get('window') || '30m',
    size: '6',
    'aria-label': 'Window',
  });
  const form = h(
    'form',
    { class: 'toolbar rg-form', id: 'rg-form' },
    h('h1', null, 'What got slower'),
    h('label', { class: 'inline' }, 'The last ', windowInput, ' against the one before, of ', serviceSel),
    h('button', { type: 'submit', class: 'primary' }, 'Compare windows'),
  );
  on(form, 'submit', (e) => {
    e.preventDefault();
    const w = windowInput.value.trim();
    if (!isGoDuration(w)) {
      windowInput.setCustomValidity('a duration such as 30m or 2h');
      windowInput.reportValidity();
      return;
    }
    ctx.go(hashOf('/slower', { service: serviceSel.value, window: w }));
  });
  const fileA = h('input', {
    type: 'file',
    id: 'rg-file-before',
    accept: '.json,.jsonl,application/json',
    'aria-label': 'Trace file before',
  });
  const fileB = h('input', {
    type: 'file',
    id: 'rg-file-after',
    accept: '.json,.jsonl,application/json',
    'aria-label': 'Trace file after',
  });
  const filesStatus = h('span', { class: 'muted', id: 'rg-files-status' });
  const files = h(
    'form',
    { class: 'toolbar rg-files', id: 'rg-files' },
    h('span', null, 'Or two trace files: before '),
    fileA,
    h('span', null, ' after '),
    fileB,
    h('button', { type: 'submit' }, 'Compare files'),
    filesStatus,
  );
  on(files, 'submit', async (e) => {
    e.preventDefault();
    if (!fileA.files.length || !fileB.files.length) {
      mount(filesStatus, 'pick both files');
      return;
    }
    mount(filesStatus, 'uploading…');
    try {
      const [a, b] = await Promise.all([
        api.importFile(fileA.files[0], ctx.signal),
        api.importFile(fileB.files[0], ctx.signal),
      ]);
      ctx.go(hashOf('/slower', { before: a.traceIDs.join(','), after: b.traceIDs.join(',') }));
    } catch (err) {
      if (err.name !== 'AbortError') mount(filesStatus, `cannot upload: ${err.message}`);
    }
  });
  const body = h('div', { class: 'rg-body', id: 'rg-body' }, h('div', { class: 'loading' }, 'Comparing…'));
  mount(main, h('div', { class: 'rg-page' }, form, files, body));

  const q = new URLSearchParams();
  for (const key of ['service', 'window', 'end', 'before', 'after', 'minRatio', 'minDeltaMs']) {
    if (params.get(key)) q.set(key, params.get(key));
  }
  let answer;
  try {
    answer = await api.regressions(q.toString(), ctx.signal);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(body, notice('error', `Cannot compare: ${e.message}`));
    return null;
  }
  const c = answer.comparison;
  const summary = h(
    'div',
    { class: 'rg-summary', id: 'rg-summary' },
    h(
      'p',
      null,
      h('strong', null, `${c.slower.length} slower`),
      `, ${c.faster.length} faster, ${c.unchanged} unchanged operation paths`,
      c.onlyBefore.length || c.onlyAfter.length
        ? `, ${c.onlyBefore.length} only before, ${c.onlyAfter.length} only after`
        : '',
    ),
    h(
      'p',
      { class: 'muted' },
      `Before: ${setText(answer.beforeSet, answer.before)}. After: ${setText(answer.afterSet, answer.after)}.`,
    ),
    h('p', { class: 'muted', id: 'rg-rule' }, `Rule — ${c.rule}.`),
  );
  mount(
    body,
    summary,
    c.slower.length ? changeTable(c.slower, 'rg-slower') : notice('empty', 'Nothing got slower.'),
    c.faster.length
      ? h(
          'details',
          { class: 'rg-faster' },
          h('summary', null, `${c.faster.length} faster`),
          changeTable(c.faster, 'rg-faster-table'),
        )
      : null,
    c.onlyAfter.length
      ? h(
          'details',
          null,
          h('summary', null, `${c.onlyAfter.length} only after`),
          h(
            'ul',
            null,
            c.onlyAfter.map((p) => h('li', { class: 'mono' }, p)),
          ),
        )
      : null,
    c.onlyBefore.length
      ? h(
          'details',
          null,
          h('summary', null, `${c.onlyBefore.length} only before`),
          h(
            'ul',
            null,
            c.onlyBefore.map((p) => h('li', { class: 'mono' }, p)),
          ),
        )
      : null,
  );
  return null;
}
