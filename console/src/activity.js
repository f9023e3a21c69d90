// A device's activity log: every call with its outcome, errors and denials stand out.
import { h } from './dom.js';

const MAX_ENTRIES = 50;

export class ActivityLog {
  constructor() {
    this.list = h('ol', { class: 'activity-list', attrs: { 'aria-live': 'polite' } });
    this.banner = h('div', { class: 'banner', hidden: true, attrs: { role: 'alert' } });
    this.element = h('div', { class: 'activity' }, h('h3', { text: 'Activity' }), this.banner, this.list);
  }

  /** A successful call. */
  ok(method, params, result) {
    this.banner.hidden = true;
    this._add('ok', `${method} ${summary(params)}`, `→ ${summary(result)}`, {});
  }

  /** A failed call (a CallFailed or any Error); also shown in the banner until the next success. */
  failed(method, params, err) {
    const code = err?.code ?? 0;
    const denied = Boolean(err?.denied);
    const kind = denied ? 'denied' : 'error';
    const label = denied ? 'DENIED' : 'ERROR';
    const detail = code ? `${code} ${err.codeName}: ${err.reason}` : String(err?.reason ?? err?.message ?? err);
    this._add(kind, `${method} ${summary(params)}`, `${label} ${detail}`, { code });
    this.banner.hidden = false;
    this.banner.className = `banner ${kind}`;
    this.banner.dataset.code = String(code);
    this.banner.textContent = `${method}: ${label} (${detail})`;
  }

  /** A file received: a link to save it. */
  file(name, size, url) {
    const link = h('a', { href: url, download: name, text: name });
    const entry = this._add('file', 'file', `${size} bytes `, {});
    entry.querySelector('.outcome')?.append(link);
  }

  /** Something the device said (a text stream on its events topic). */
  event(text) {
    this._add('event', 'event', text, {});
  }

  _add(kind, what, outcome, data) {
    const time = new Date().toLocaleTimeString([], { hour12: false });
    const entry = h(
      'li',
      { class: kind, data },
      h('time', { text: time }),
      h('span', { class: 'what', text: what }),
      h('span', { class: 'outcome', text: outcome }),
    );
    this.list.prepend(entry);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.lastElementChild?.remove();
    return entry;
  }
}

/** Compact JSON for a log line. */
function summary(value) {
  if (value === undefined || value === null) return '';
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
