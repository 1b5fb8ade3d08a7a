// Trace page, header part: the trace's name and id, its counts (start, duration, services,
// depth, spans, errors), its services, and the links that take the trace elsewhere (compare,
// JSON, OTLP file, offline HTML).

import * as api from './api.js';
import { copyButton, h, mount, serviceBadge } from './dom.js';
import { formatDuration, formatTime } from './format.js';
import { traceName } from './model.js';
import { hashOf } from './route.js';

function metaItem(label, value, id) {
  return h('div', { class: 'meta-item' }, h('dt', null, label), h('dd', { id }, value));
}

/** The header's counts of `trace`, as [label, value, element id]. */
export function traceMeta(trace) {
  return [
    ['Start', formatTime(trace.start), 'meta-start'],
    ['Duration', formatDuration(trace.duration), 'meta-duration'],
    ['Services', String(trace.services.length), 'meta-services'],
    ['Depth', String(trace.depth), 'meta-depth'],
    ['Total spans', String(trace.spanCount), 'meta-spans'],
    ['Errors', String(trace.errorCount), 'meta-errors'],
  ];
}

/**
 * The header of `state.trace`. Returns `{el, actions, update, progress}`: `actions` are the
 * links for the toolbar, `update()` redraws the name and counts from `state.trace` (after it
 * changed), `progress(text, error)` says how the loading goes (null: loaded; error: it failed).
 */
export function createHeader(state) {
  const title = h('h1', { class: 'trace-title' });
  const meta = h('dl', { class: 'trace-meta' });
  const services = h('div', { class: 'trace-services' });
  const progress = h('p', { class: 'trace-loading muted', id: 'trace-loading', 'aria-live': 'polite', hidden: true });
  const id = state.trace.id;
  const el = h(
    'div',
    { class: 'trace-header' },
    title,
    h(
      'div',
      { class: 'trace-id' },
      h('span', { class: 'muted' }, 'Trace ID '),
      h('code', { id: 'trace-id', class: 'mono' }, id),
      copyButton(id, 'Copy ID'),
    ),
    meta,
    progress,
    services,
  );

  const actions = [
    h('a', { class: 'button', href: hashOf(`/compare/${encodeURIComponent(id)}`) }, 'Compare with…'),
    api.offline
      ? null
      : h(
          'a',
          { class: 'button', href: `/api/traces/${encodeURIComponent(id)}`, target: '_blank', rel: 'noopener' },
          'JSON',
        ),
    api.offline
      ? null
      : h(
          'a',
          {
            class: 'button',
            id: 'download-otlp',
            href: api.exportUrl(id, 'otlp-json'),
            download: `trace-${id}.otlp.json`,
            title: 'The trace as OTLP JSON, for tracer-collector import or any OTLP tool',
          },
          'Download OTLP JSON',
        ),
    api.offline
      ? null
      : h(
          'a',
          {
            class: 'button',
            id: 'save-html',
            href: api.exportUrl(id, 'html'),
            download: `trace-${id}.html`,
            title: 'One HTML file with this view that opens offline, to attach to a bug report',
          },
          'Save as HTML',
        ),
  ];

  function update() {
    const trace = state.trace;
    const name = traceName(trace);
    mount(
      title,
      name.service ? serviceBadge(name.service) : null,
      ' ',
      h('span', { class: 'op', id: 'trace-title-op' }, name.operation),
    );
    mount(
      meta,
      traceMeta(trace).map(([label, value, itemId]) => metaItem(label, value, itemId)),
    );
    mount(
      services,
      trace.services.map((svc) => serviceBadge(svc.name, svc.count)),
    );
  }
  function showProgress(text, error = false) {
    progress.hidden = text === null;
    progress.textContent = text || '';
    progress.classList.toggle('status-error', error);
    progress.setAttribute('role', error ? 'alert' : 'status');
  }
  update();
  return { el, actions, update, progress: showProgress };
}
