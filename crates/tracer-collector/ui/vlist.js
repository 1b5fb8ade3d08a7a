// A virtualized list: only the rows in (or near) the viewport exist in the DOM, so a list of
// 10,000 spans scrolls as fast as one of 50. Rows have a fixed height.

import { on } from './dom.js';

export class VirtualList {
  /**
   * @param {object} o
   * @param {number} o.rowHeight   row height in px
   * @param {(item, index) => Element} o.renderRow
   * @param {number} [o.overscan]  rows rendered beyond each edge of the viewport
   * @param {string} [o.className] extra class of the scroller
   */
  constructor({ rowHeight, renderRow, overscan = 12, className = '' }) {
    this.rowHeight = rowHeight;
    this.renderRow = renderRow;
    this.overscan = overscan;
    this.items = [];
    this.rows = new Map(); // index -> element currently in the DOM
    this.version = 0; // bumped by refresh(): rows built for an older version are rebuilt
    this.el = document.createElement('div');
    this.el.className = `vlist ${className}`.trim();
    this.el.setAttribute('role', 'list');
    this.inner = document.createElement('div');
    this.inner.className = 'vlist-inner';
    this.el.appendChild(this.inner);
    this.pending = false;
    on(this.el, 'scroll', () => this.schedule(), { passive: true });
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(this.el);
  }

  /** Replaces the items and re-renders. */
  setItems(items) {
    this.items = items;
    this.inner.style.height = `${items.length * this.rowHeight}px`;
    this.refresh();
  }

  /** Rebuilds the visible rows (after a change that affects how rows look). */
  refresh() {
    this.version++;
    this.render();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  /** The index range [first, last) currently rendered. */
  range() {
    const height = this.el.clientHeight || 800;
    const first = Math.max(0, Math.floor(this.el.scrollTop / this.rowHeight) - this.overscan);
    const last = Math.min(this.items.length, Math.ceil((this.el.scrollTop + height) / this.rowHeight) + this.overscan);
    return [first, last];
  }

  render() {
    const [first, last] = this.range();
    for (const [index, row] of this.rows) {
      if (index < first || index >= last) {
        row.remove();
        this.rows.delete(index);
      }
    }
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const kept = this.rows.get(i);
      if (kept && kept.vlistVersion === this.version) continue;
      const fresh = this.renderRow(this.items[i], i);
      // A row still on screen after a refresh keeps its element and takes the new content:
      // a page that refreshes while spans arrive must not swap the element under a pointer
      // between press and release (the click would land on no row at all).
      const row = kept ? patch(kept, fresh) : fresh;
      row.vlistVersion = this.version;
      row.classList.add('vrow');
      row.style.transform = `translateY(${i * this.rowHeight}px)`;
      row.style.height = `${this.rowHeight}px`;
      if (!kept) {
        this.rows.set(i, row);
        fragment.appendChild(row);
      }
    }
    this.inner.appendChild(fragment);
  }

  /** Scrolls so that row `index` is visible (centred when it was off screen). */
  scrollToIndex(index) {
    const top = index * this.rowHeight;
    const height = this.el.clientHeight || 800;
    if (top < this.el.scrollTop || top + this.rowHeight > this.el.scrollTop + height) {
      this.el.scrollTop = Math.max(0, top - height / 2 + this.rowHeight / 2);
    }
    this.render();
  }

  /** Stops observing; call when the view goes away. */
  destroy() {
    this.resize.disconnect();
  }
}

/** Gives `row` the attributes and children of `fresh`, keeping the element itself. */
function patch(row, fresh) {
  for (const name of row.getAttributeNames()) if (!fresh.hasAttribute(name)) row.removeAttribute(name);
  for (const name of fresh.getAttributeNames()) row.setAttribute(name, fresh.getAttribute(name));
  row.replaceChildren(...fresh.childNodes);
  return row;
}
