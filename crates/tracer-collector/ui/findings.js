// The trace linter's findings above a trace's waterfall (`/api/traces/{id}/findings`): one line
// per finding, warnings first, each naming its spans (buttons that select the span in the
// waterfall), the evidence and the fix. Mounted by trace.js; loads on its own, so the waterfall
// never waits for it, and stays out of the way when the collector (or a saved page) has none.

import * as api from './api.js';
import { h, mount, on } from './dom.js';

const TITLES = {
  'n-plus-one': 'N+1 queries',
  'sequential-calls': 'Sequential calls',
  'retry-storm': 'Retry storm',
  'error-swallowed': 'Error swallowed',
  'error-handled': 'Error handled',
  'error-propagated': 'Error propagated',
  'dominant-span': 'Dominant span',
};

function findingItem(f, labelOf) {
  const spans = (f.spans || []).map((id) =>
    h(
      'button',
      {
        type: 'button',
        class: 'finding-span',
        title: `Select span ${id}`,
        dataset: { span: id },
      },
      labelOf(id),
    ),
  );
  return h(
    'li',
    { class: ['finding', `sev-${f.severity}`], dataset: { rule: f.rule } },
    h(
      'div',
      { class: 'finding-head' },
      h('span', { class: 'finding-rule' }, TITLES[f.rule] || f.rule),
      h('span', { class: 'finding-subject' }, f.subject),
    ),
    h(
      'p',
      { class: 'finding-text' },
      h('span', { class: 'finding-evidence' }, `${f.evidence}; `),
      h('span', { class: 'finding-fix' }, `${f.fix}.`),
    ),
    spans.length ? h('div', { class: 'finding-spans' }, h('span', { class: 'muted' }, 'Spans '), spans) : null,
  );
}

/**
 * The findings panel of trace `id`: an element, filled when the answer arrives. `labelOf(spanId)`
 * names a span ("service operation"); `select(spanId)` shows it in the waterfall.
 */
export function findingsPanel(id, { signal, labelOf = (s) => s, select = () => {} } = {}) {
  const list = h('ol', { class: 'findings-list', id: 'findings-list' });
  const count = h('span', { class: 'findings-count', id: 'findings-count' }, '…');
  const panel = h(
    'details',
    { class: 'findings', id: 'trace-findings', open: true },
    h('summary', null, h('span', { class: 'findings-title' }, 'Findings'), ' ', count),
    list,
  );
  panel.hidden = true;
  on(list, 'click', 'button[data-span]', (e, button) => select(button.dataset.span));
  if (api.offline || typeof api.findings !== 'function') return panel;
  api.findings(id, signal).then(
    (answer) => {
      if (answer && answer.skipped) {
        // Too large to lint: say so, folded.
        mount(count, 'not linted');
        mount(list, h('li', { class: 'muted finding-none' }, `${answer.skipped}.`));
        panel.open = false;
        panel.hidden = false;
        return;
      }
      const findings = (answer && answer.findings) || [];
      const warnings = findings.filter((f) => f.severity === 'warning').length;
      mount(
        count,
        findings.length
          ? `${findings.length}${warnings ? ` · ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}`
          : 'none',
      );
      panel.classList.toggle('has-warnings', warnings > 0);
      if (findings.length) {
        mount(
          list,
          findings.map((f) => findingItem(f, labelOf)),
        );
      } else {
        mount(
          list,
          h(
            'li',
            { class: 'muted finding-none' },
            'No N+1 queries, sequential calls, retry storms or swallowed errors found.',
          ),
        );
        panel.open = false;
      }
      panel.hidden = false;
    },
    (e) => {
      // An older collector without the endpoint, or a trace too large to lint: no panel.
      if (e.name !== 'AbortError') panel.dataset.error = e.message || String(e);
    },
  );
  return panel;
}
