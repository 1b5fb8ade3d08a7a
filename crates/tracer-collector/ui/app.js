// The single-page app: a hash router over the views. Each view has its own URL, so links can be
// shared and back/forward work:
//   #/search?service=&operation=&tags=&minDuration=&maxDuration=&lookback=&limit=&sort=
//   #/trace/{id}?span={spanId}&find={text}
//   #/deps?lookback=
//   #/service/{name}?lookback=
//   #/compare/{a}/{b}
//   #/slower?service=&window=  or  #/slower?before={ids}&after={ids}
//   #/status

import * as api from './api.js';
import { h, mount, notice, on } from './dom.js';
import { registerServices } from './format.js';
import { hashOf, parseHash } from './route.js';
import { searchView } from './search.js';
import { traceView } from './trace.js';
import { depsView } from './deps.js';
import { compareView } from './compare.js';
import { regressView } from './regress.js';
import { serviceView } from './service.js';
import { statusView } from './status.js';
import { installUpload } from './upload.js';

const main = document.getElementById('app');

const routes = [
  [/^\/(search)?$/, (m, params, ctx) => searchView(main, params, ctx)],
  [/^\/trace\/([^/]+)$/, (m, params, ctx) => traceView(main, decodeURIComponent(m[1]), params, ctx)],
  [/^\/service\/([^/]+)$/, (m, params, ctx) => serviceView(main, decodeURIComponent(m[1]), params, ctx)],
  [/^\/(deps|dependencies)$/, (m, params, ctx) => depsView(main, params, ctx)],
  [/^\/status$/, (m, params, ctx) => statusView(main, params, ctx)],
  [/^\/slower$/, (m, params, ctx) => regressView(main, params, ctx)],
  [
    /^\/compare(?:\/([^/]*)(?:\/([^/]*))?)?$/,
    (m, params, ctx) => compareView(main, decodeURIComponent(m[1] || ''), decodeURIComponent(m[2] || ''), params, ctx),
  ],
];

let current = null; // { controller, cleanup }

async function route() {
  if (current) {
    current.controller.abort();
    if (current.cleanup) current.cleanup();
  }
  const { path, params } = parseHash();
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const mine = current;
  const section = path.split('/')[1] || 'search';
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === (section === 'dependencies' ? 'deps' : section));
  }
  const ctx = {
    signal: controller.signal,
    /** Rewrites this view's URL parameters without adding a history entry. */
    replaceParams(next) {
      if (mine !== current) return;
      history.replaceState(history.state, '', hashOf(path, next));
    },
    /** Goes to another view (a new history entry). */
    go(hash) {
      location.hash = hash;
    },
  };
  for (const [pattern, view] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    try {
      const cleanup = await view(m, params, ctx);
      if (mine === current) mine.cleanup = cleanup || null;
      else if (cleanup) cleanup();
    } catch (e) {
      if (e.name === 'AbortError' || mine !== current) return;
      mount(main, notice('error', e.message || String(e)));
    }
    return;
  }
  mount(main, notice('error', 'No such page. ', h('a', { href: '#/search' }, 'Go to search')));
}

on(document.getElementById('jump'), 'submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('jump-id');
  const id = input.value.trim();
  if (id) location.hash = `#/trace/${encodeURIComponent(id)}`;
  input.value = '';
});

if (api.offline) {
  // The saved page holds its traces only: nothing to upload to, no collector to search.
  document.getElementById('upload').remove();
} else {
  installUpload(main, (hash) => {
    location.hash = hash;
  });
}

on(window, 'hashchange', route);
api
  .services()
  .then(registerServices, () => {})
  .finally(route);
