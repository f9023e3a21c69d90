// The device twin: every participant attribute, live, with recent changes highlighted.
import { h } from './dom.js';

const HIGHLIGHT_MS = 1500;

export class TwinTable {
  constructor() {
    this.body = h('tbody');
    /** @type {Map<string, {row: HTMLElement, value: HTMLElement}>} */
    this.rows = new Map();
    this.element = h(
      'div',
      { class: 'twin' },
      h('h3', { text: 'Device twin' }),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { text: 'attribute' }), h('th', { text: 'value' }))), this.body),
    );
  }

  /** Show `attributes` (all of them); keys in `changed` flash. */
  update(attributes, changed = {}) {
    for (const [key, { row }] of this.rows) {
      if (!Object.hasOwn(attributes, key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    for (const key of Object.keys(attributes).sort()) {
      let entry = this.rows.get(key);
      if (!entry) {
        const value = h('td', { class: 'value' });
        entry = { row: h('tr', { data: { key } }, h('th', { text: key }), value), value };
        this.rows.set(key, entry);
      }
      entry.value.textContent = attributes[key];
      entry.row.dataset.value = attributes[key];
      if (Object.hasOwn(changed, key)) flash(entry.row);
    }
    // Keep rows sorted by key (new keys may land anywhere).
    const sorted = [...this.rows.keys()].sort().map((k) => this.rows.get(k).row);
    this.body.replaceChildren(...sorted);
  }
}

function flash(row) {
  row.classList.add('changed');
  setTimeout(() => row.classList.remove('changed'), HIGHLIGHT_MS);
}
