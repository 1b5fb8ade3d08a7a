// DOM building without HTML strings. Every text goes through textContent / createTextNode and
// every attribute through setAttribute on a known name, so span data is always inert text.
// (The server also sends a Content-Security-Policy without 'unsafe-inline'.)

import { serviceColor, textOn } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

function apply(el, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === 'style') {
      // CSSOM, not a style attribute: allowed under style-src 'self'.
      for (const [k, v] of Object.entries(value)) el.style.setProperty(k, String(v));
    } else if (key === 'href') {
      el.setAttribute('href', safeHref(String(value)));
    } else if (key === 'text') {
      el.textContent = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Only in-page hash routes and same-origin API paths are ever linked. */
export function safeHref(href) {
  return href.startsWith('#/') || href.startsWith('/api/') ? href : '#/';
}

/** h('div', {class: 'x', id: 'y'}, 'text', child, [more]); events are bound with `on`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Replaces the children of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * The one way the UI binds events. `on(target, type, handler)` listens on target itself;
 * `on(target, type, selector, handler)` listens on target for events from its descendants that
 * match selector (delegation: one listener for a whole list, rows can come and go) and calls
 * handler(event, matched element). `options` go to addEventListener. Returns the unbinding
 * function.
 */
export function on(target, type, selector, handler, options) {
  if (typeof selector === 'function') {
    options = handler;
    handler = selector;
    selector = null;
  }
  const listener = selector
    ? (event) => {
        const matched = event.target instanceof Element ? event.target.closest(selector) : null;
        if (matched && target.contains(matched)) handler(event, matched);
      }
    : (event) => handler(event, target);
  target.addEventListener(type, listener, options);
  return () => target.removeEventListener(type, listener, options);
}

/** Copies text to the clipboard; resolves to true on success. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    const area = h('textarea', { class: 'offscreen', readonly: true });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/** A button that copies `text` and briefly says so. */
export function copyButton(text, label = 'Copy') {
  const button = h('button', { class: 'copy', type: 'button', title: 'Copy to clipboard' }, label);
  on(button, 'click', async (e) => {
    e.stopPropagation();
    const ok = await copyText(text);
    button.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => {
      button.textContent = label;
    }, 1200);
  });
  return button;
}

/** A message box for errors and empty results. */
export function notice(kind, ...children) {
  return h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** A coloured service badge. */
export function serviceBadge(name, extra) {
  const color = serviceColor(name);
  return h(
    'span',
    {
      class: 'badge service',
      title: name,
      style: { 'background-color': color, color: textOn(color) },
      dataset: { service: name },
    },
    name,
    extra !== undefined ? h('span', { class: 'count' }, extra) : null,
  );
}
