// Trace page, span detail part: the panel beside the waterfall with the selected span's fields,
// attributes, events, links and resource. Span data is shown as text, never as markup.

import { copyButton, h, mount, on, serviceBadge } from './dom.js';
import { formatDuration, formatTime, tagText } from './format.js';
import { attributesOf, linksOf, selfTime, spanTagsOf } from './model.js';
import { traceHash } from './route.js';

/** A key/value table of Jaeger tags; values are text, never markup. */
function kvTable(tags, className = '') {
  if (!tags || !tags.length) return h('p', { class: 'muted' }, 'none');
  return h(
    'table',
    { class: ['kv', className] },
    h(
      'tbody',
      null,
      tags.map((t) =>
        h(
          'tr',
          { dataset: { key: t.key } },
          h('th', { scope: 'row' }, t.key),
          h('td', { class: `type-${t.type || 'string'}`, title: t.type || '' }, tagText(t.value)),
        ),
      ),
    ),
  );
}

/** Microseconds of `node` on the critical path (`critical`: criticalPath's map), or null when off it. */
export function criticalTime(critical, node) {
  if (!critical || !critical.has(node.id)) return null;
  return critical.get(node.id).reduce((sum, [a, b]) => sum + (b - a), 0);
}

/** A button that opens another span of this trace (its id in data-span-id). */
function spanButton(spanId, label) {
  return h('button', { type: 'button', class: 'linklike', dataset: { spanId } }, label);
}

/**
 * The span panel. It reads `state.trace` and `state.critical`. `onOpen(spanId)` is called for
 * a click on another span of the trace (parent, link), `onClose()` for the close button.
 * Returns `{el, show}`: `show(node)` fills the panel, `show(null)` hides it.
 */
export function createSpanDetail(state, { onOpen, onClose }) {
  const el = h('aside', { class: 'span-detail', id: 'span-detail', hidden: true });
  on(el, 'click', 'button.close', () => onClose());
  on(el, 'click', 'button.linklike', (e, b) => onOpen(b.dataset.spanId));

  function show(node) {
    if (!node) {
      el.hidden = true;
      mount(el);
      return;
    }
    const trace = state.trace;
    el.hidden = false;
    const parentCell = node.parent
      ? spanButton(node.parent.id, `${node.parent.service}: ${node.parent.operation}`)
      : node.parentId
        ? h('span', null, h('code', null, node.parentId), ' (not in this trace)')
        : 'none (root span)';
    const criticalUs = criticalTime(state.critical, node);
    const spanTags = spanTagsOf(node);
    const attributes = attributesOf(node);
    const nodeLinks = linksOf(node);
    const scope = spanTags.filter((t) => t.key.startsWith('otel.scope.'));
    const traceState = spanTags.find((t) => t.key === 'w3c.tracestate');
    const fields = [
      ['Service', node.service],
      ['Operation', node.operation],
      ['Span ID', h('span', null, h('code', { id: 'detail-span-id' }, node.id), copyButton(node.id))],
      ['Parent', parentCell],
      ['Kind', h('span', { id: 'detail-kind' }, node.kind || 'unspecified')],
      [
        'Status',
        h(
          'span',
          { id: 'detail-status', class: node.error ? 'status-error' : '' },
          node.statusCode,
          node.statusMessage ? ` — ${node.statusMessage}` : '',
        ),
      ],
      ['Start', `+${formatDuration(node.start - trace.start)} (${formatTime(node.start)})`],
      ['Duration', formatDuration(node.duration)],
      ['Self time', formatDuration(selfTime(node))],
      ['On critical path', criticalUs === null ? 'no' : formatDuration(criticalUs)],
      ['Depth', String(node.depth)],
    ];
    if (scope.length) fields.push(['Scope', scope.map((t) => tagText(t.value)).join(' ')]);
    if (traceState) fields.push(['Trace state', tagText(traceState.value)]);

    const events = node.logs.length
      ? h(
          'ol',
          { class: 'events' },
          node.logs.map((log) => {
            const nameField = (log.fields || []).find((f) => f.key === 'event');
            const rest = (log.fields || []).filter((f) => f !== nameField);
            return h(
              'li',
              null,
              h(
                'div',
                { class: 'event-head' },
                h('span', { class: 'mono offset' }, `+${formatDuration(log.timestamp - trace.start)}`),
                ' ',
                h('strong', null, nameField ? tagText(nameField.value) : '(event)'),
              ),
              rest.length ? kvTable(rest) : null,
            );
          }),
        )
      : h('p', { class: 'muted' }, 'none');

    const links = nodeLinks.length
      ? h(
          'ul',
          { class: 'links' },
          nodeLinks.map((ref) => {
            const here = ref.traceID === trace.id && trace.byId.has(ref.spanID);
            return h(
              'li',
              null,
              h('span', { class: 'badge' }, ref.refType),
              ' ',
              here
                ? spanButton(ref.spanID, ref.spanID)
                : h('a', { href: traceHash(ref.traceID, ref.spanID), class: 'mono' }, `${ref.traceID} / ${ref.spanID}`),
            );
          }),
        )
      : h('p', { class: 'muted' }, 'none');

    const resource = [{ key: 'service.name', type: 'string', value: node.service }, ...(node.process.tags || [])];

    mount(
      el,
      h(
        'div',
        { class: 'detail-head' },
        h('h2', { id: 'detail-title' }, node.operation),
        h('button', { type: 'button', class: 'close', 'aria-label': 'Close', title: 'Close (Esc)' }, '×'),
      ),
      h('div', { class: 'detail-service' }, serviceBadge(node.service)),
      h(
        'table',
        { class: 'kv fields' },
        h(
          'tbody',
          null,
          fields.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v))),
        ),
      ),
      h(
        'section',
        { id: 'detail-attributes' },
        h('h3', null, `Attributes (${attributes.length})`),
        kvTable(attributes),
      ),
      h('section', { id: 'detail-events' }, h('h3', null, `Events (${node.logs.length})`), events),
      h('section', { id: 'detail-links' }, h('h3', null, `Links (${nodeLinks.length})`), links),
      h('section', { id: 'detail-resource' }, h('h3', null, 'Resource'), kvTable(resource)),
    );
  }

  return { el, show };
}
