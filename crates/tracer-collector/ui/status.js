// The collector's status (#/status): what the store holds against its limits, each port's
// connections, and, when forwarding is on, each upstream's counters (sent, retried, dropped by
// reason, buffered, last error) and the tail sampler's. Numbers from /api/collector/stats.

import * as api from './api.js';
import { h, mount, notice } from './dom.js';

const FORWARD_COLUMNS = [
  ['url', 'Upstream'],
  ['protocol', 'Protocol'],
  ['sent_spans', 'Sent spans'],
  ['retries', 'Retries'],
  ['dropped_buffer_full', 'Dropped: buffer full'],
  ['dropped_rejected', 'Dropped: rejected'],
  ['dropped_partial', 'Dropped: partial'],
  ['dropped_shutdown', 'Dropped: shutdown'],
  ['buffered_spans', 'Buffered spans'],
  ['buffered_bytes', 'Buffered bytes'],
  ['replayed_spans', 'Read back from disk'],
  ['maybe_duplicate_spans', 'Maybe sent twice'],
  ['last_error', 'Last error'],
];

function table(id, columns, rows) {
  return h(
    'table',
    { class: 'deps-table', id },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        columns.map(([, title]) => h('th', null, title)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((row) =>
        h(
          'tr',
          null,
          columns.map(([key]) => {
            const v = row[key];
            return h(
              'td',
              { class: typeof v === 'number' ? 'num' : '', dataset: { key } },
              v === null || v === undefined ? '—' : String(v),
            );
          }),
        ),
      ),
    ),
  );
}

export async function statusView(main, params, ctx) {
  mount(main, h('div', { class: 'loading' }, 'Loading status…'));
  let stats;
  try {
    stats = await api.collectorStats(ctx.signal);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(main, notice('error', `Cannot load the collector's status: ${e.message}`));
    return null;
  }
  const store = [
    { what: 'spans', held: stats.spans, limit: stats.max_spans },
    { what: 'bytes', held: stats.bytes, limit: stats.max_bytes },
    { what: 'traces', held: stats.traces, limit: null },
    { what: 'evicted spans', held: stats.evicted_spans, limit: null },
    { what: 'rejected spans', held: stats.rejected_spans, limit: null },
  ];
  const listeners = Object.entries(stats.listeners || {}).map(([name, l]) => ({ name, ...l }));
  const listenerColumns = listeners.length
    ? [
        ['name', 'Port'],
        ...Object.keys(listeners[0])
          .filter((k) => k !== 'name')
          .map((k) => [k, k.replace(/_/g, ' ')]),
      ]
    : [['name', 'Port']];
  const forward = stats.forward || [];
  const tail = stats.forward_tail_sampling;
  mount(
    main,
    h(
      'div',
      { class: 'status-page' },
      h('div', { class: 'toolbar' }, h('h1', null, 'Collector status')),
      h('h2', null, 'Store'),
      table(
        'status-store',
        [
          ['what', ''],
          ['held', 'Held'],
          ['limit', 'Limit'],
        ],
        store,
      ),
      h('h2', null, 'Ports'),
      table('status-listeners', listenerColumns, listeners),
      h('h2', null, 'Forwarding'),
      forward.length
        ? table('status-forward', FORWARD_COLUMNS, forward)
        : h(
            'p',
            { class: 'muted', id: 'status-forward-off' },
            'Forwarding is off (start the collector with --forward-otlp URL).',
          ),
      tail
        ? h(
            'div',
            null,
            h('h2', null, 'Tail sampling'),
            table(
              'status-tail',
              [
                ['pending_traces', 'Waiting traces'],
                ['kept', 'Kept (per policy)'],
                ['dropped_traces', 'Dropped traces'],
                ['late_spans_kept', 'Late spans kept'],
                ['late_spans_dropped', 'Late spans dropped'],
                ['early_decisions', 'Early decisions'],
                ['complete_decisions', 'Decided when complete'],
              ],
              [
                {
                  ...tail,
                  kept:
                    Object.entries(tail.kept || {})
                      .map(([k, v]) => `${k}: ${v}`)
                      .join(', ') || '—',
                },
              ],
            ),
          )
        : null,
    ),
  );
  return null;
}
