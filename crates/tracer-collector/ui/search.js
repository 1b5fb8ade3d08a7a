// Search page: the query form (service incl. "all services", operation, tags, durations,
// lookback, limit) and the results as a scatter plot of duration over time plus a sortable list.

import * as api from './api.js';
import { h, mount, notice, on, s, serviceBadge } from './dom.js';
import {
  formatAgo,
  formatClock,
  formatDuration,
  formatTime,
  isGoDuration,
  parseGoDuration,
  serviceColor,
} from './format.js';
import { summarize } from './model.js';
import { hashOf, traceHash } from './route.js';

const LOOKBACKS = [
  ['5m', 'Last 5 minutes'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['2h', 'Last 2 hours'],
  ['6h', 'Last 6 hours'],
  ['12h', 'Last 12 hours'],
  ['24h', 'Last 24 hours'],
  ['48h', 'Last 2 days'],
  ['168h', 'Last 7 days'],
];
const DEFAULT_LOOKBACK = '1h';
const DEFAULT_LIMIT = 20;

const COLUMNS = [
  ['name', 'Trace'],
  ['spans', 'Spans'],
  ['errors', 'Errors'],
  ['duration', 'Duration'],
  ['services', 'Services'],
  ['start', 'Start time'],
];
const SORTERS = {
  name: (a, b) => `${a.name.service}: ${a.name.operation}`.localeCompare(`${b.name.service}: ${b.name.operation}`),
  spans: (a, b) => a.spanCount - b.spanCount,
  errors: (a, b) => a.errorCount - b.errorCount,
  duration: (a, b) => a.duration - b.duration,
  services: (a, b) => a.services.length - b.services.length,
  start: (a, b) => a.start - b.start,
};

/**
 * Parses `k=v k2="v 2"` into {k: 'v', k2: 'v 2'}. Returns {tags} or {error}.
 */
export function parseTags(text) {
  const tags = {};
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) break;
    const eq = text.indexOf('=', i);
    const space = text.slice(i).search(/\s/);
    if (eq < 0 || (space >= 0 && i + space < eq)) {
      const word = text.slice(i, space < 0 ? n : i + space);
      return { error: `tags: expected key=value, got "${word}"` };
    }
    const key = text.slice(i, eq);
    if (!key) return { error: 'tags: a tag has no key' };
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= n) return { error: `tags: unclosed quote in value of "${key}"` };
      try {
        value = JSON.parse(text.slice(i, j + 1));
      } catch (_) {
        return { error: `tags: bad quoted value of "${key}"` };
      }
      i = j + 1;
    } else {
      let j = i;
      while (j < n && !/\s/.test(text[j])) j++;
      value = text.slice(i, j);
      i = j;
    }
    tags[key] = value;
  }
  return { tags };
}

/** The search parameters from the URL, with defaults. */
function readParams(params) {
  const limit = Number.parseInt(params.get('limit') || '', 10);
  const lookback = params.get('lookback') || DEFAULT_LOOKBACK;
  return {
    service: params.get('service') || '',
    operation: params.get('operation') || '',
    tags: params.get('tags') || '',
    minDuration: params.get('minDuration') || '',
    maxDuration: params.get('maxDuration') || '',
    lookback: isGoDuration(lookback) ? lookback : DEFAULT_LOOKBACK,
    limit: Number.isFinite(limit) && limit > 0 ? Math.min(limit, 1500) : DEFAULT_LIMIT,
    sort: params.get('sort') || 'start-desc',
    // A window given in Unix microseconds (links from the service page's charts).
    startUs: Number(params.get('start')) || 0,
    endUs: Number(params.get('end')) || 0,
  };
}

function field(label, control, hint) {
  return h(
    'label',
    { class: 'field' },
    h('span', { class: 'label' }, label),
    control,
    hint ? h('span', { class: 'hint' }, hint) : null,
  );
}

function option(value, label, selected) {
  return h('option', { value, selected: selected || false }, label);
}

export async function searchView(main, params, ctx) {
  const p = readParams(params);
  const services = await api.services(ctx.signal);

  const serviceSelect = h(
    'select',
    { name: 'service', id: 'search-service' },
    option('', 'All services', p.service === ''),
    services.map((name) => option(name, name, name === p.service)),
  );
  if (p.service && !services.includes(p.service)) {
    serviceSelect.appendChild(option(p.service, p.service, true));
  }
  const operationSelect = h(
    'select',
    { name: 'operation', id: 'search-operation' },
    option('', 'All operations', true),
  );
  const tagsInput = h('input', {
    name: 'tags',
    id: 'search-tags',
    type: 'text',
    value: p.tags,
    spellcheck: 'false',
    placeholder: 'http.response.status_code=500 error=true',
  });
  const lookbackSelect = h(
    'select',
    { name: 'lookback', id: 'search-lookback' },
    LOOKBACKS.map(([v, label]) => option(v, label, v === p.lookback)),
  );
  if (!LOOKBACKS.some(([v]) => v === p.lookback)) {
    lookbackSelect.appendChild(option(p.lookback, `Last ${p.lookback}`, true));
  }
  const minInput = h('input', {
    name: 'minDuration',
    id: 'search-min',
    type: 'text',
    value: p.minDuration,
    placeholder: 'e.g. 10ms',
  });
  const maxInput = h('input', {
    name: 'maxDuration',
    id: 'search-max',
    type: 'text',
    value: p.maxDuration,
    placeholder: 'e.g. 1.5s',
  });
  const limitInput = h('input', {
    name: 'limit',
    id: 'search-limit',
    type: 'number',
    min: '1',
    max: '1500',
    value: String(p.limit),
  });
  const formError = h('div', { class: 'form-error', role: 'alert' });

  async function loadOperations(service, selected) {
    const names = service
      ? await api.operations(service, ctx.signal).catch(() => [])
      : [
          ...new Set(
            (await Promise.all(services.map((svc) => api.operations(svc, ctx.signal).catch(() => [])))).flat(),
          ),
        ].sort();
    mount(
      operationSelect,
      option('', 'All operations', !selected),
      names.map((name) => option(name, name, name === selected)),
    );
    if (selected && !names.includes(selected)) operationSelect.appendChild(option(selected, selected, true));
  }
  on(serviceSelect, 'change', () => loadOperations(serviceSelect.value, ''));

  const form = h(
    'form',
    { class: 'search-form', id: 'search-form', autocomplete: 'off' },
    h('h2', null, 'Search'),
    field('Service', serviceSelect),
    field('Operation', operationSelect),
    field('Tags', tagsInput, 'key=value pairs separated by spaces; quote values with spaces'),
    field('Lookback', lookbackSelect),
    h('div', { class: 'field-row' }, field('Min duration', minInput), field('Max duration', maxInput)),
    field('Limit results', limitInput),
    formError,
    h('button', { type: 'submit', class: 'primary', id: 'search-submit' }, 'Find traces'),
    p.service
      ? h(
          'a',
          { href: `#/service/${encodeURIComponent(p.service)}`, id: 'search-service-metrics' },
          `Rate, errors and latency of ${p.service}`,
        )
      : null,
  );

  on(form, 'submit', (e) => {
    e.preventDefault();
    const next = {
      service: serviceSelect.value,
      operation: operationSelect.value,
      tags: tagsInput.value.trim(),
      minDuration: minInput.value.trim(),
      maxDuration: maxInput.value.trim(),
      lookback: lookbackSelect.value,
      limit: limitInput.value,
      sort: p.sort === 'start-desc' ? '' : p.sort,
    };
    const problem = validate(next);
    formError.textContent = problem || '';
    if (problem) return;
    const hash = hashOf('/search', next);
    if (hash === location.hash) runSearch(readParams(new URLSearchParams(hash.split('?')[1] || '')));
    else ctx.go(hash);
  });

  const results = h('section', { class: 'results', id: 'search-results' });
  mount(main, h('div', { class: 'search-page' }, form, results));
  loadOperations(p.service, p.operation);

  function runSearch(q) {
    return search(results, q, ctx);
  }
  const problem = validate(p);
  if (problem) {
    formError.textContent = problem;
    return null;
  }
  await runSearch(p);
  return null;
}

function validate(p) {
  for (const [name, v] of [
    ['Min duration', p.minDuration],
    ['Max duration', p.maxDuration],
  ]) {
    if (v && !isGoDuration(v)) return `${name}: "${v}" is not a duration like 10ms, 1.5s or 2m`;
  }
  if (p.minDuration && p.maxDuration && parseGoDuration(p.maxDuration) < parseGoDuration(p.minDuration)) {
    return 'Max duration is smaller than min duration';
  }
  const tags = parseTags(p.tags);
  if (tags.error) return tags.error;
  const limit = Number(p.limit);
  if (!Number.isInteger(limit) || limit < 1) return 'Limit must be a positive whole number';
  return null;
}

async function search(results, p, ctx) {
  mount(results, h('div', { class: 'loading' }, 'Searching…'));
  let found;
  try {
    found = await api.searchTraces(
      {
        service: p.service,
        operation: p.operation,
        tags: parseTags(p.tags).tags,
        minDuration: p.minDuration,
        maxDuration: p.maxDuration,
        lookbackUs: p.endUs && p.startUs ? p.endUs - p.startUs : parseGoDuration(p.lookback),
        endUs: p.endUs || undefined,
        limit: p.limit,
      },
      ctx.signal,
    );
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    mount(results, notice('error', `Search failed: ${e.message}`));
    return;
  }
  const traces = found.traces.map(summarize);
  if (!traces.length) {
    mount(results, notice('empty', 'No traces found. Widen the lookback, remove filters or pick "All services".'));
    return;
  }
  let sort = p.sort;
  const selected = new Set();
  const compareButton = h('button', { type: 'button', id: 'compare-selected', disabled: true }, 'Compare 2 selected');
  on(compareButton, 'click', () => {
    const [a, b] = [...selected];
    ctx.go(`#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`);
  });
  const sortSelect = h(
    'select',
    { id: 'search-sort', 'aria-label': 'Sort' },
    [
      ['start-desc', 'Most recent'],
      ['start-asc', 'Oldest first'],
      ['duration-desc', 'Longest first'],
      ['duration-asc', 'Shortest first'],
      ['spans-desc', 'Most spans'],
      ['errors-desc', 'Most errors'],
      ['name-asc', 'Name'],
    ].map(([v, label]) => option(v, label, v === sort)),
  );
  const table = h('table', { class: 'trace-list', id: 'trace-list' });
  const scatter = h('div', { class: 'scatter', id: 'scatter' });
  const what = p.service
    ? `in ${p.service}`
    : found.requests > 1
      ? `across ${found.requests} services`
      : 'across all services';
  mount(
    results,
    h(
      'div',
      { class: 'results-head' },
      h('h2', { id: 'result-count' }, `${traces.length} trace${traces.length === 1 ? '' : 's'}`),
      h('span', { class: 'muted' }, what),
      h('span', { class: 'spacer' }),
      h('label', { class: 'inline' }, 'Sort ', sortSelect),
      compareButton,
    ),
    scatter,
    table,
  );

  const setSort = (next) => {
    sort = next;
    sortSelect.value = next;
    ctx.replaceParams({ ...paramsObject(p), sort: next === 'start-desc' ? '' : next });
    drawTable();
  };
  on(sortSelect, 'change', () => setSort(sortSelect.value));

  const maxDuration = Math.max(...traces.map((t) => t.duration), 1);
  function drawTable() {
    const [column, dir] = sort.split('-');
    const cmp = SORTERS[column] || SORTERS.start;
    const rows = [...traces].sort((a, b) => (dir === 'asc' ? cmp(a, b) : cmp(b, a)));
    const head = h(
      'tr',
      null,
      h('th', { class: 'pick' }, ''),
      COLUMNS.map(([key, label]) => {
        const active = key === column;
        return h(
          'th',
          {
            class: ['sortable', active ? `sorted-${dir}` : ''],
            'data-sort': key,
            tabindex: '0',
            'aria-sort': active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none',
          },
          label,
        );
      }),
    );
    const body = rows.map((t) => {
      const box = h('input', { type: 'checkbox', 'aria-label': 'Select for compare', checked: selected.has(t.id) });
      return h(
        'tr',
        { class: t.errorCount ? 'has-errors' : '', dataset: { traceId: t.id } },
        h('td', { class: 'pick' }, box),
        h(
          'td',
          { class: 'name' },
          h(
            'a',
            { href: traceHash(t.id), class: 'trace-link' },
            h('span', { class: 'svc' }, t.name.service),
            t.name.service ? ': ' : '',
            t.name.operation,
          ),
          h('span', { class: 'tid mono', title: t.id }, t.id.slice(0, 7)),
        ),
        h('td', { class: 'num spans' }, String(t.spanCount)),
        h(
          'td',
          { class: 'num errors' },
          t.errorCount ? h('span', { class: 'badge error' }, String(t.errorCount)) : '0',
        ),
        h(
          'td',
          { class: 'duration' },
          h('span', { class: 'dur-text' }, formatDuration(t.duration)),
          h('span', { class: 'dur-bar', style: { width: `${Math.max(1, (t.duration / maxDuration) * 100)}%` } }),
        ),
        h(
          'td',
          { class: 'services' },
          t.services.map((svc) => serviceBadge(svc.name, svc.count)),
        ),
        h(
          'td',
          { class: 'start' },
          h('span', null, formatTime(t.start)),
          h('span', { class: 'muted ago' }, formatAgo(t.start)),
        ),
      );
    });
    mount(table, h('thead', null, head), h('tbody', null, body));
  }
  // Bound once on the table, which drawTable refills: a header sorts, a checkbox picks.
  const toggleSort = (th) => {
    const [column, dir] = sort.split('-');
    const key = th.dataset.sort;
    setSort(`${key}-${key === column && dir === 'desc' ? 'asc' : 'desc'}`);
  };
  on(table, 'click', 'th.sortable', (e, th) => toggleSort(th));
  on(table, 'keydown', 'th.sortable', (e, th) => {
    if (e.key === 'Enter') toggleSort(th);
  });
  on(table, 'change', 'td.pick input', (e, box) => {
    const id = box.closest('tr').dataset.traceId;
    if (box.checked) selected.add(id);
    else selected.delete(id);
    compareButton.disabled = selected.size !== 2;
  });
  drawTable();
  drawScatter(scatter, traces, ctx);
  const resize = new ResizeObserver(() => drawScatter(scatter, traces, ctx));
  resize.observe(scatter);
  on(ctx.signal, 'abort', () => resize.disconnect());
}

function paramsObject(p) {
  return {
    service: p.service,
    operation: p.operation,
    tags: p.tags,
    minDuration: p.minDuration,
    maxDuration: p.maxDuration,
    lookback: p.lookback,
    limit: p.limit,
  };
}

/** Duration over start time; one dot per trace, sized by span count, red when it has errors. */
function drawScatter(container, traces, ctx) {
  const width = Math.max(320, container.clientWidth || 800);
  const height = 190;
  const m = { left: 64, right: 18, top: 12, bottom: 28 };
  let t0 = Math.min(...traces.map((t) => t.start));
  let t1 = Math.max(...traces.map((t) => t.start));
  if (t1 - t0 < 1e6) {
    t0 -= 5e5;
    t1 += 5e5;
  }
  const dMax = Math.max(...traces.map((t) => t.duration), 1) * 1.1;
  const x = (v) => m.left + ((v - t0) / (t1 - t0)) * (width - m.left - m.right);
  const y = (v) => height - m.bottom - (v / dMax) * (height - m.top - m.bottom);
  const svg = s('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: 'scatter-svg',
    role: 'img',
    'aria-label': 'Trace durations over time',
  });
  for (const f of [0, 0.5, 1]) {
    const v = (dMax / 1.1) * f;
    svg.appendChild(s('line', { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), class: 'grid' }));
    svg.appendChild(s('text', { x: m.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, formatDuration(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const v = t0 + ((t1 - t0) * i) / 4;
    svg.appendChild(
      s(
        'text',
        { x: x(v), y: height - 8, class: 'axis', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        formatClock(v),
      ),
    );
  }
  svg.appendChild(s('line', { x1: m.left, x2: m.left, y1: m.top, y2: height - m.bottom, class: 'axis-line' }));
  const dots = [...traces].sort((a, b) => b.spanCount - a.spanCount); // small dots on top
  for (const t of dots) {
    const r = 3.5 + Math.min(6, Math.log2(Math.max(1, t.spanCount)));
    const color = serviceColor(t.name.service || '?');
    const dot = s(
      'circle',
      {
        cx: x(t.start).toFixed(1),
        cy: y(t.duration).toFixed(1),
        r: r.toFixed(1),
        class: ['dot', t.errorCount ? 'error' : ''],
        fill: color,
        tabindex: '0',
        dataset: { traceId: t.id },
      },
      s(
        'title',
        null,
        `${t.name.service}: ${t.name.operation}\n${formatDuration(t.duration)} · ${t.spanCount} spans · ${t.errorCount} errors\n${formatTime(t.start)}`,
      ),
    );
    svg.appendChild(dot);
  }
  on(svg, 'click', '.dot', (e, dot) => ctx.go(traceHash(dot.dataset.traceId)));
  on(svg, 'keydown', '.dot', (e, dot) => {
    if (e.key === 'Enter') ctx.go(traceHash(dot.dataset.traceId));
  });
  mount(container, svg);
}
