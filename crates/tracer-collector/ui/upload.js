// Upload: trace files picked with the top bar's Upload button or dropped anywhere on the page
// are stored by the collector (`POST /api/import`, like any trace) and then opened: one trace
// goes straight to its view, several are listed with links.

import * as api from './api.js';
import { h, mount, notice, on } from './dom.js';
import { traceHash } from './route.js';

/** Stores `files` one after the other; the imported trace ids and a line per file. */
async function importAll(files) {
  const ids = [];
  const lines = [];
  let failed = false;
  for (const file of files) {
    try {
      const r = await api.importFile(file);
      for (const id of r.traceIDs || []) if (!ids.includes(id)) ids.push(id);
      const rejected = r.rejected ? `, ${r.rejected} rejected: ${r.message}` : '';
      lines.push(`${file.name}: ${r.spans} spans in ${(r.traceIDs || []).length} traces${rejected}`);
    } catch (e) {
      failed = true;
      lines.push(`${file.name}: ${e.message}`);
    }
  }
  return { ids, lines, failed };
}

function showResults(main, { ids, lines, failed }) {
  mount(
    main,
    h(
      'div',
      { class: 'upload-results', id: 'upload-results' },
      notice(
        failed ? 'error' : 'info',
        h(
          'ul',
          null,
          lines.map((l) => h('li', null, l)),
        ),
      ),
      ids.length
        ? h(
            'div',
            { class: 'notice' },
            'Imported traces:',
            h(
              'ul',
              null,
              ids.map((id) => h('li', null, h('a', { href: traceHash(id) }, id))),
            ),
          )
        : null,
    ),
  );
}

/** Wires the Upload button and drag-and-drop; `go(hash)` opens a view. */
export function installUpload(main, go) {
  const input = document.getElementById('upload-input');
  const run = async (files) => {
    if (!files.length) return;
    mount(main, h('div', { class: 'loading' }, `Uploading ${files.length} file(s)…`));
    const result = await importAll(files);
    if (!result.failed && result.ids.length === 1) go(traceHash(result.ids[0]));
    else showResults(main, result);
  };
  on(input, 'change', () => {
    const files = [...input.files];
    input.value = '';
    run(files);
  });
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  on(document, 'dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    document.body.classList.add('dropping');
  });
  on(document, 'dragleave', (e) => {
    if (e.relatedTarget === null) document.body.classList.remove('dropping');
  });
  on(document, 'drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    document.body.classList.remove('dropping');
    run([...e.dataTransfer.files]);
  });
}
