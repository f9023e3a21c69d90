// One edge participant's card: header, media, twin, telemetry plots, controls and activity.
import { ActivityLog } from './activity.js';
import { Controls } from './controls.js';
import { h } from './dom.js';
import { MediaPanel } from './media.js';
import { Plot } from './plot.js';
import { CallFailed, RpcCaller, UNSUPPORTED_METHOD } from './rpc.js';
import { TwinTable } from './twin.js';
import { ATTRIBUTES, METHODS, PREFIXES } from './wire.generated.js';

/** A device that just joined may not have registered its methods yet: ask again this often. */
const EARLY_RETRIES = 4;
const EARLY_RETRY_MS = 1000;
/** How far back the backfill on join reaches. */
const HISTORY_WINDOW_S = 15 * 60;
const HISTORY_PAGE = 2000;
const HISTORY_MAX_PAGES = 5;

export class DeviceCard {
  /**
   * @param {import('livekit-client').Room} room
   * @param {import('livekit-client').RemoteParticipant} participant
   * @param {import('./telemetry.js').TelemetryStore} store  this participant's readings
   * @param {(topic: string) => void} onTopic  the device streams telemetry on `topic`
   */
  constructor(room, participant, store, onTopic) {
    this.participant = participant;
    this.store = store;
    this.onTopic = onTopic;
    this.caller = new RpcCaller(room, participant.identity);
    this.media = new MediaPanel();
    this.twin = new TwinTable();
    this.activity = new ActivityLog();
    this.controls = new Controls((method, params) => this.run(method, params));
    /** @type {Map<string, Plot>} */
    this.plots = new Map();
    this.title = h('h2');
    this.badges = h('div', { class: 'badges' });
    this.plotArea = h('div', { class: 'plots' });
    this.telemetryNote = h('p', { class: 'muted', text: 'Waiting for readings…' });
    this.staleNote = h('p', { class: 'stale-note', hidden: true, attrs: { role: 'status' } });
    this.logs = h('div', { class: 'logs', hidden: true });
    this.isStale = false;
    this.element = h(
      'section',
      { class: 'device', data: { identity: participant.identity, state: 'live' } },
      h('header', {}, this.title, this.badges),
      this.staleNote,
      h(
        'div',
        { class: 'grid' },
        this.media.element,
        h('div', { class: 'telemetry' }, h('h3', { text: 'Telemetry' }), this.telemetryNote, this.plotArea),
        this.controls.element,
        this.twin.element,
        h('div', { class: 'activity-column' }, this.activity.element, this.logs),
      ),
    );
    store.onChange = (sensors) => this.redraw(sensors);
    this.redraw(new Set(store.sensors.keys()));
    this.attributesChanged(participant.attributes);
  }

  /**
   * Nothing on this card is live any more (`why`, in words): the device left, or this page
   * lost the room. The values stay, marked as the last known; every control is disabled.
   */
  stale(why) {
    this.isStale = true;
    this.element.dataset.state = 'stale';
    this.element.classList.add('stale');
    this.staleNote.hidden = false;
    this.staleNote.textContent = why;
    this.controls.disable();
    const status = this.badges.querySelector('.badge.status');
    if (status) {
      status.className = 'badge status offline';
      status.textContent = 'offline';
    }
    for (const badge of this.badges.querySelectorAll('.badge.edge-connection')) badge.remove();
  }

  /** The room connection is down for now (`why`) or back (null): controls off, then on again. */
  suspend(why) {
    if (this.isStale) return;
    this.element.dataset.state = why ? 'suspended' : 'live';
    this.element.classList.toggle('stale', Boolean(why));
    this.staleNote.hidden = !why;
    this.staleNote.textContent = why ?? '';
    /** @type {HTMLFieldSetElement} */ (this.controls.element).disabled = Boolean(why);
  }

  /** Ask the device what it offers and backfill its telemetry; failures are shown, not thrown. */
  async start() {
    await Promise.all([this.discover(), this.backfill()]);
  }

  /**
   * Call a method on the device and log the outcome; rejects with CallFailed.
   * With `early`, "unsupported method" is retried for a few seconds: a device that has just
   * joined answers calls before its services have registered their methods.
   */
  async run(method, params = {}, { early = false } = {}) {
    for (let attempt = 1; ; attempt += 1) {
      if (this.isStale) {
        const err = new CallFailed(method, 0, 'not sent: the device is not connected', 'error');
        this.activity.failed(method, params, err);
        throw err;
      }
      try {
        const reply = await this.caller.call(method, params);
        this.activity.ok(method, params, reply);
        return reply;
      } catch (err) {
        const unsupported = err instanceof CallFailed && err.code === UNSUPPORTED_METHOD;
        if (early && unsupported && attempt < EARLY_RETRIES) {
          await new Promise((resolve) => setTimeout(resolve, EARLY_RETRY_MS));
          continue;
        }
        this.activity.failed(method, params, err);
        throw err;
      }
    }
  }

  async discover() {
    let describe;
    try {
      describe = await this.run(METHODS.DESCRIBE, {}, { early: true });
    } catch (err) {
      this.controls.unavailable(err.message);
      return;
    }
    this.caller.learnCodes(describe?.errors);
    let list = null;
    if (describe?.methods && Object.hasOwn(describe.methods, METHODS.GPIO_LIST)) {
      try {
        list = await this.run(METHODS.GPIO_LIST);
      } catch {
        // shown in the activity log; the other controls still work
      }
    }
    this.controls.build(describe, list);
    this.attributesChanged(this.participant.attributes); // values that arrived meanwhile
  }

  /** Readings from before we joined, through `telemetry.history`, page by page. */
  async backfill() {
    let since = { since_us: Math.max(0, Math.round((Date.now() / 1000 - HISTORY_WINDOW_S) * 1e6)) };
    for (let page = 0; page < HISTORY_MAX_PAGES; page += 1) {
      let reply;
      try {
        reply = await this.run(METHODS.TELEMETRY_HISTORY, { ...since, limit: HISTORY_PAGE }, { early: page === 0 });
      } catch (err) {
        if (err instanceof CallFailed && err.code === UNSUPPORTED_METHOD) {
          this.telemetryNote.textContent = 'This device has no telemetry.';
        }
        return;
      }
      if (reply?.topic) this.onTopic(reply.topic);
      if (!reply?.more) return;
      since = { since_seq: reply.last_seq };
    }
  }

  /** The participant's attributes changed (all of them are passed; `changed` flashes). */
  attributesChanged(attributes, changed = {}) {
    if (this.isStale) return;
    this.twin.update(attributes, changed);
    const p = this.participant;
    this.title.replaceChildren(h('span', { text: p.name || p.identity }), h('small', { text: ` ${p.identity}` }));
    const status = attributes[ATTRIBUTES.STATUS] ?? 'unknown';
    const badges = [h('span', { class: `badge status ${status}`, text: status })];
    for (const [key, label] of [
      [ATTRIBUTES.BOARD, ''],
      [ATTRIBUTES.VERSION, 'v'],
      [ATTRIBUTES.CONNECTION, ''],
      [ATTRIBUTES.ERROR, 'last error: '],
    ]) {
      if (attributes[key]) badges.push(h('span', { class: `badge ${key.replace('.', '-')}`, text: `${label}${attributes[key]}` }));
    }
    this.badges.replaceChildren(...badges);
    this.controls.setLease(attributes[ATTRIBUTES.LEASE] ?? '');
    for (const [key, value] of Object.entries(attributes)) {
      if (key.startsWith(PREFIXES.OUTPUT)) this.controls.setOutput(key.slice(PREFIXES.OUTPUT.length), value);
    }
  }

  /** A file the device sent us (a log bundle, a snapshot): a download link, images and text shown. */
  async file(name, blob) {
    const url = URL.createObjectURL(blob);
    this.activity.file(name, blob.size, url);
    if (blob.type.startsWith('image/')) this.media.snapshot(url, name);
    else if (blob.type.startsWith('text/')) this.showText(name, await blob.text(), url);
  }

  /** The latest text file (a log bundle): readable in place, with a download link. */
  showText(name, text, url) {
    this.logs.hidden = false;
    this.logs.replaceChildren(
      h('h3', { text: 'Logs' }),
      h('p', {}, h('a', { href: url, download: name, text: `Download ${name}` }), h('span', { class: 'muted', text: ` (${text.length} characters)` })),
      h('pre', { class: 'log-text', tabIndex: 0, attrs: { 'aria-label': `contents of ${name}` }, text }),
    );
  }

  /** A text line on the device's events topic. */
  event(text) {
    this.activity.event(text);
  }

  redraw(sensors) {
    for (const name of sensors) {
      const series = this.store.sensors.get(name);
      if (!series) continue;
      let plot = this.plots.get(name);
      if (!plot) {
        plot = new Plot(name);
        this.plots.set(name, plot);
        const names = [...this.plots.keys()].sort();
        this.plotArea.replaceChildren(...names.map((n) => this.plots.get(n).element));
      }
      plot.update(series);
    }
    if (this.plots.size) {
      let latest = 0;
      for (const series of this.store.sensors.values()) latest = Math.max(latest, series.points.at(-1)?.timeUs ?? 0);
      const when = new Date(latest / 1000).toLocaleTimeString([], { hour12: false });
      const dropped = this.store.dropped ? ` · ${this.store.dropped} older readings were lost on the device (its buffer was full)` : '';
      this.telemetryNote.textContent = `Latest reading taken at ${when}${dropped}`;
    }
  }
}
