// Device controls generated from `edge.describe` and `gpio.list`: switches for on/off outputs,
// sliders for ranges, pulse buttons, input reads, the controller lease, and a form for any
// other described method. The edge decides what is allowed; controls only hint at it.
import { formatNumber, h } from './dom.js';
import { METHODS } from './wire.generated.js';

const HANDLED = new Set([
  METHODS.GPIO_LIST, METHODS.GPIO_SET, METHODS.GPIO_PULSE, METHODS.GPIO_READ, METHODS.GPIO_LEASE,
  METHODS.DESCRIBE, METHODS.CAMERA_SNAPSHOT, METHODS.LOGS,
]);
const DEFAULT_PULSE_S = 1;
const DEFAULT_LEASE_S = 60;
/**
 * A slider sends its latest value at most this often while it moves: one request per key press
 * or pointer move would run into the device's rate limit (`max_rate_hz`, 10 by default).
 */
const SLIDER_INTERVAL_MS = 200;

/**
 * @callback Run  call a method, log the outcome; resolves to the reply or rejects
 * @param {string} method
 * @param {object} params
 * @returns {Promise<any>}
 */

export class Controls {
  /** @param {Run} run */
  constructor(run) {
    this.run = run;
    /** @type {Map<string, {value: HTMLElement, input: HTMLInputElement|null, safe: number}>} */
    this.outputs = new Map();
    this.leaseHolder = h('span', { class: 'lease-holder', text: 'free' });
    this.leaseLeft = h('span', { class: 'lease-left', hidden: true });
    /** @type {{holder: string, until: number} | null} */
    this.leaseExpiry = null;
    /** @type {string | undefined} */
    this.reportedHolder = undefined;
    this.leaseTimer = 0;
    this.body = h('div', { class: 'controls-body' }, h('p', { class: 'muted', text: 'Asking the device what it offers…' }));
    // A disabled fieldset disables every control inside, including ones built later.
    this.element = h('fieldset', { class: 'controls' }, h('legend', { text: 'Controls' }), this.body);
  }

  /** Nothing can be sent any more (the device or this page left the room). */
  disable() {
    /** @type {HTMLFieldSetElement} */ (this.element).disabled = true;
    this._leaseExpires(null);
  }

  /** Build from an `edge.describe` answer and a `gpio.list` answer (null without gpio.list). */
  build(describe, list) {
    const methods = describe?.methods ?? {};
    const has = (name) => Object.hasOwn(methods, name);
    // Whole-device tools only for a caller the edge will not refuse (`callable`, per caller);
    // per-output controls stay, each with gpio.list's own "not allowed for you" badge.
    const offered = (name) => has(name) && methods[name].callable !== false;
    const parts = [];
    const tools = [];
    if (offered(METHODS.CAMERA_SNAPSHOT)) tools.push(this._button('Take snapshot', 'snapshot', METHODS.CAMERA_SNAPSHOT, 'a still from the camera, shown under Media'));
    if (offered(METHODS.LOGS)) tools.push(this._button('Get logs', 'logs', METHODS.LOGS, 'recent log lines and the redacted config, shown under Activity'));
    if (tools.length) parts.push(h('div', { class: 'tools' }, ...tools));
    if (offered(METHODS.GPIO_LEASE)) parts.push(this._leaseRow());
    if (list && (list.outputs?.length || list.inputs?.length)) {
      parts.push(this._devices(list, has));
      this.setLease(list.lease?.holder ?? '');
      if (list.lease?.holder) this._leaseExpires(list.lease);
    }
    const others = Object.entries(methods).filter(([name]) => !HANDLED.has(name));
    const forms = others.map(([name, spec]) => this._methodForm(name, spec));
    forms.push(this._freeCall(Object.keys(methods)));
    parts.push(h('details', { class: 'more' }, h('summary', { text: `More methods (${others.length})` }), ...forms));
    this.body.replaceChildren(...parts);
  }

  /** The device could not describe itself: only the free-form call remains. */
  unavailable(reason) {
    this.body.replaceChildren(h('p', { class: 'muted', text: reason }), this._freeCall([]));
  }

  /** An output's value as the device reports it (a `gpio.<name>` attribute). */
  setOutput(name, text) {
    const row = this.outputs.get(name);
    if (!row) return;
    this._confirmed(row, Number(text));
  }

  /**
   * The controller lease holder as the device's attributes say ("" when free). Attributes can
   * lag behind a `gpio.lease` reply, so only a change of what they say counts.
   */
  setLease(holder) {
    if (holder === this.reportedHolder) return;
    this.reportedHolder = holder;
    this._showHolder(holder);
    if (this.leaseExpiry && this.leaseExpiry.holder !== holder) this._leaseExpires(null);
  }

  _showHolder(holder) {
    this.leaseHolder.textContent = holder || 'free';
    this.leaseHolder.dataset.holder = holder;
  }

  /** The device's word on an output's value: shown, and the control follows unless in use. */
  _confirmed(row, value) {
    row.value.textContent = formatNumber(value);
    row.value.dataset.value = String(value);
    row.current = value;
    this._sync(row);
  }

  /** Put the control where the device says, unless the user is moving it or a value is on its way. */
  _sync(row) {
    if (!row.input || row.busy?.()) return;
    if (row.input.type === 'checkbox') row.input.checked = row.current !== 0;
    else row.input.value = String(row.current);
  }

  /** Count down a lease (`{holder, expires_in_s}`, null to stop). */
  _leaseExpires(lease) {
    clearInterval(this.leaseTimer);
    this.leaseTimer = 0;
    this.leaseExpiry = lease?.holder ? { holder: lease.holder, until: performance.now() + lease.expires_in_s * 1000 } : null;
    const tick = () => {
      const left = this.leaseExpiry ? Math.ceil((this.leaseExpiry.until - performance.now()) / 1000) : 0;
      this.leaseLeft.hidden = left <= 0;
      this.leaseLeft.textContent = left > 0 ? `${left} s left` : '';
      this.leaseLeft.dataset.seconds = String(Math.max(0, left));
      if (left <= 0 && this.leaseTimer) {
        clearInterval(this.leaseTimer);
        this.leaseTimer = 0;
      }
    };
    tick();
    if (this.leaseExpiry) this.leaseTimer = setInterval(tick, 1000);
  }

  async _lease(params) {
    const reply = await this._try(METHODS.GPIO_LEASE, params);
    if (reply && 'lease' in reply) {
      this._showHolder(reply.lease?.holder ?? '');
      this._leaseExpires(reply.lease);
    }
  }

  _button(text, control, method, title) {
    return h('button', { type: 'button', text, title, data: { control }, on: { click: () => this._try(method, {}) } });
  }

  _leaseRow() {
    const seconds = h('input', { type: 'number', min: 1, step: 1, value: DEFAULT_LEASE_S, class: 'seconds', title: 'lease duration (s)', attrs: { 'aria-label': 'lease duration in seconds' } });
    const acquire = h('button', {
      type: 'button',
      text: 'Acquire',
      data: { control: 'lease-acquire' },
      on: { click: () => this._lease({ action: 'acquire', duration_s: Number(seconds.value) || DEFAULT_LEASE_S }) },
    });
    const release = h('button', {
      type: 'button',
      text: 'Release',
      data: { control: 'lease-release' },
      on: { click: () => this._lease({ action: 'release' }) },
    });
    return h(
      'div',
      { class: 'lease' },
      h('span', { text: 'Controller lease: ' }),
      this.leaseHolder,
      this.leaseLeft,
      seconds,
      h('span', { class: 'unit', text: 's' }),
      acquire,
      release,
    );
  }

  _devices(list, has) {
    this.pulseSeconds = h('input', { type: 'number', min: 0.1, step: 0.1, value: DEFAULT_PULSE_S, class: 'seconds', attrs: { 'aria-label': 'pulse length (s)' } });
    const rows = [];
    for (const output of list.outputs ?? []) rows.push(this._outputRow(output, has));
    for (const input of list.inputs ?? []) rows.push(this._inputRow(input, has));
    const pulse = has(METHODS.GPIO_PULSE) ? h('label', { class: 'pulse-length' }, h('span', { text: 'Pulse length ' }), this.pulseSeconds, h('span', { text: ' s' })) : null;
    return h(
      'div',
      {},
      pulse,
      h(
      'table',
      { class: 'devices' },
      h('thead', {}, h('tr', {}, h('th', { text: 'device' }), h('th', { text: 'value' }), h('th', { text: 'control' }))),
      h('tbody', {}, ...rows),
      ),
    );
  }

  _outputRow(output, has) {
    const [low, high] = output.range ?? [0, 1];
    const binary = low === 0 && high === 1 && ['digital', 'buzzer'].includes(output.kind);
    const value = h('output', { class: 'value', text: formatNumber(output.value), data: { value: output.value } });
    const pending = h('span', { class: 'pending', hidden: true });
    /** @type {{value: HTMLElement, pending: HTMLElement, input: HTMLInputElement|null, current: number, busy?: () => boolean}} */
    const row = { value, pending, input: null, current: Number(output.value) };
    const cells = [];
    if (has(METHODS.GPIO_SET)) {
      const input = binary ? this._switch(output, row) : this._slider(output, row, low, high);
      row.input = input;
      cells.push(input);
    }
    if (has(METHODS.GPIO_PULSE)) cells.push(this._pulse(output));
    if (has(METHODS.GPIO_SET) && !binary) {
      cells.push(
        h('button', {
          text: 'Safe',
          title: `back to the safe value ${output.safe_value}`,
          data: { control: 'safe', device: output.name },
          on: { click: () => this._try(METHODS.GPIO_SET, { device: output.name, value: output.safe_value }) },
        }),
      );
    }
    this.outputs.set(output.name, row);
    this._sync(row);
    const notes = [];
    if (output.may_set === false) notes.push(h('span', { class: 'badge warn', text: 'not allowed for you' }));
    if (output.max_hold_s > 0) notes.push(h('span', { class: 'badge', text: `reverts after ${output.max_hold_s} s` }));
    return h(
      'tr',
      { data: { device: output.name, kind: output.kind } },
      h('th', { title: output.description ?? '' }, h('span', { text: output.name }), h('small', { text: output.kind }), ...notes),
      h('td', {}, value, pending),
      h('td', {}, h('div', { class: 'control' }, ...cells)),
    );
  }

  _switch(output, row) {
    const input = h('input', {
      type: 'checkbox',
      attrs: { role: 'switch', 'aria-label': `${output.name} on/off` },
      data: { control: 'switch', device: output.name },
    });
    input.addEventListener('change', async () => {
      const wanted = input.checked ? 1 : 0;
      await this._try(METHODS.GPIO_SET, { device: output.name, value: wanted });
      this._sync(row); // the device's word (its attribute) decides what the switch shows
    });
    return input;
  }

  /**
   * A range slider. Moving it (pointer or keys) sends the latest value at most every
   * SLIDER_INTERVAL_MS, one request at a time; the value cell shows what the device confirmed
   * and, beside it, the value on its way. The slider is left alone while it is in use.
   */
  _slider(output, row, low, high) {
    const input = h('input', {
      type: 'range',
      min: low,
      max: high,
      step: (high - low) / 100,
      attrs: { 'aria-label': `${output.name} value` },
      data: { control: 'slider', device: output.name },
    });
    let pointer = false;
    let inFlight = false;
    let timer = 0;
    let lastSent = -Infinity;
    /** @type {number | null} */
    let wanted = null;
    row.busy = () => pointer || inFlight || timer !== 0 || wanted !== null;
    const showPending = () => {
      const text = wanted ?? (inFlight ? row.sending : null);
      row.pending.hidden = text === null || text === undefined;
      row.pending.textContent = row.pending.hidden ? '' : `→ ${formatNumber(text)}`;
      row.pending.title = 'sent, not yet confirmed by the device';
      row.value.parentElement?.parentElement?.toggleAttribute('data-pending', !row.pending.hidden);
    };
    const send = async () => {
      timer = 0;
      if (wanted === null) return;
      const value = wanted;
      wanted = null;
      inFlight = true;
      row.sending = value;
      lastSent = performance.now();
      showPending();
      const reply = await this._try(METHODS.GPIO_SET, { device: output.name, value });
      inFlight = false;
      if (reply && typeof reply.value === 'number' && wanted === null) this._confirmed(row, reply.value);
      schedule();
      showPending();
      this._sync(row); // after a refusal, back to the device's value
    };
    const schedule = () => {
      if (inFlight || timer || wanted === null) return;
      const wait = Math.max(0, lastSent + SLIDER_INTERVAL_MS - performance.now());
      timer = window.setTimeout(send, wait);
    };
    input.addEventListener('input', () => {
      wanted = Number(input.value);
      showPending();
      schedule();
    });
    input.addEventListener('change', () => {
      if (Number(input.value) !== row.current || inFlight) {
        wanted = Number(input.value);
        showPending();
        schedule();
      }
    });
    input.addEventListener('pointerdown', () => (pointer = true));
    for (const end of ['pointerup', 'pointercancel', 'blur']) {
      input.addEventListener(end, () => {
        pointer = false;
        this._sync(row);
      });
    }
    return input;
  }

  _pulse(output) {
    return h('button', {
      text: 'Pulse',
      title: 'on for the pulse length, then back to safe',
      data: { control: 'pulse', device: output.name },
      on: { click: () => this._try(METHODS.GPIO_PULSE, { device: output.name, duration_s: Number(this.pulseSeconds.value) || DEFAULT_PULSE_S }) },
    });
  }

  _inputRow(input, has) {
    const value = h('output', { class: 'value', text: '–' });
    const read = has(METHODS.GPIO_READ)
      ? h('button', {
          text: 'Read',
          data: { control: 'read', device: input.name },
          on: {
            click: async () => {
              const reply = await this._try(METHODS.GPIO_READ, { device: input.name });
              if (reply) {
                value.textContent = formatNumber(reply.value);
                value.dataset.value = String(reply.value);
              }
            },
          },
        })
      : null;
    return h(
      'tr',
      { data: { device: input.name, kind: input.kind } },
      h('th', { title: input.description ?? '' }, h('span', { text: input.name }), h('small', { text: `${input.kind} (input)` })),
      h('td', {}, value),
      h('td', {}, h('div', { class: 'control' }, read)),
    );
  }

  _methodForm(name, spec) {
    const properties = spec?.params?.properties ?? {};
    const required = new Set(spec?.params?.required ?? []);
    const fields = Object.entries(properties).map(([key, rule]) => field(key, rule, required.has(key)));
    const form = h(
      'form',
      { class: 'method', data: { method: name } },
      h('strong', { text: name }),
      h('small', { text: ` ${spec?.description ?? ''}` }),
      ...fields.map((f) => f.element),
      h('button', { type: 'submit', text: 'Call' }),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const params = {};
      for (const f of fields) {
        const value = f.read();
        if (value !== undefined) params[f.key] = value;
      }
      this._try(name, params);
    });
    return form;
  }

  _freeCall(methods) {
    const listId = `methods-${Math.random().toString(36).slice(2)}`;
    const method = h('input', { type: 'text', placeholder: 'method', required: true, attrs: { list: listId }, class: 'method-name' });
    const payload = h('input', { type: 'text', placeholder: '{}', value: '{}', class: 'payload' });
    const form = h(
      'form',
      { class: 'method free', data: { method: '' } },
      h('strong', { text: 'Call a method' }),
      h('datalist', { id: listId }, ...methods.map((m) => h('option', { value: m }))),
      method,
      payload,
      h('button', { type: 'submit', text: 'Call' }),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      let params;
      try {
        params = JSON.parse(payload.value || '{}');
      } catch (err) {
        payload.setCustomValidity(`not JSON: ${err.message}`);
        payload.reportValidity();
        return;
      }
      payload.setCustomValidity('');
      this._try(method.value.trim(), params);
    });
    return form;
  }

  /** Run a call; failures are already in the activity log, so they end here. */
  async _try(method, params) {
    try {
      return await this.run(method, params);
    } catch {
      return null;
    }
  }
}

/** One input for a JSON-schema property: enum → select, number → number, boolean → checkbox. */
function field(key, rule, required) {
  const kinds = [rule?.type ?? []].flat();
  let input;
  let read;
  if (Array.isArray(rule?.enum)) {
    input = h('select', {}, ...(required ? [] : [h('option', { value: '', text: '' })]), ...rule.enum.map((v) => h('option', { value: String(v), text: String(v) })));
    read = () => (input.value === '' ? undefined : rule.enum.find((v) => String(v) === input.value));
  } else if (kinds.includes('number') || kinds.includes('integer')) {
    input = h('input', { type: 'number', step: 'any', required });
    read = () => (input.value === '' ? undefined : Number(input.value));
  } else if (kinds.length === 1 && kinds[0] === 'boolean' && required) {
    input = h('input', { type: 'checkbox' });
    read = () => input.checked;
  } else if (kinds.length === 1 && kinds[0] === 'boolean') {
    // Optional: leaving it out must stay possible (an unticked box would send false).
    input = h('select', {}, ...['', 'true', 'false'].map((v) => h('option', { value: v, text: v })));
    read = () => (input.value === '' ? undefined : input.value === 'true');
  } else {
    input = h('input', { type: 'text', required });
    read = () => (input.value === '' ? undefined : input.value);
  }
  input.name = key;
  const element = h('label', { title: rule?.description ?? '' }, h('span', { text: `${key}${required ? '*' : ''}` }), input);
  return { key, element, read };
}
