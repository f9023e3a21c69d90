// Element construction without innerHTML: everything shown comes from other participants.

/**
 * Create an element. `props`: `class`, `text`, `data` (dataset), `on` (event listeners),
 * `attrs` (attributes), anything else is set as a property (e.g. `type`, `value`).
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'data') for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (key === 'on') for (const [k, v] of Object.entries(value)) el.addEventListener(k, v);
    else if (key === 'attrs') for (const [k, v] of Object.entries(value)) el.setAttribute(k, String(v));
    else el[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return /** @type {HTMLElement} */ (el);
}

/** A short human form of a number: up to 3 decimals, no trailing zeros. */
export function formatNumber(value) {
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  return String(Math.round(value * 1000) / 1000);
}
