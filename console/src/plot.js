// A live line plot of one sensor in plain SVG: value over wall-clock time, latest value large.
import { formatNumber, h } from './dom.js';

const WIDTH = 320;
const HEIGHT = 90;
const PAD = 4;

export class Plot {
  /** @param {string} sensor */
  constructor(sensor) {
    this.line = h('svg:polyline', { attrs: { fill: 'none', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' } });
    this.svg = h(
      'svg:svg',
      {
        class: 'plot',
        data: { sensor, points: 0 },
        attrs: { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' },
      },
      this.line,
    );
    this.latest = h('span', { class: 'latest' });
    this.range = h('span', { class: 'range' });
    this.element = h(
      'figure',
      { class: 'sensor', data: { sensor } },
      h('figcaption', {}, h('span', { class: 'name', text: sensor }), this.latest),
      this.svg,
      this.range,
    );
  }

  /** Redraw from the series' points (ordered by seq). */
  update(series) {
    const points = series.points;
    const last = points[points.length - 1];
    this.latest.textContent = last ? `${display(last.value)} ${series.unit}`.trim() : '';
    const numeric = points.filter((p) => typeof p.value === 'number' || typeof p.value === 'boolean');
    this.svg.dataset.points = String(numeric.length);
    this.svg.setAttribute('aria-label', `${series.name}: ${numeric.length} readings`);
    if (!numeric.length) {
      this.line.setAttribute('points', '');
      this.range.textContent = last ? 'not numeric' : 'no readings yet';
      return;
    }
    const xs = numeric.map((p) => p.timeUs);
    const ys = numeric.map((p) => Number(p.value));
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
    const sx = (x) => (x1 > x0 ? PAD + ((x - x0) / (x1 - x0)) * (WIDTH - 2 * PAD) : WIDTH - PAD);
    const sy = (y) => HEIGHT - PAD - ((y - y0) / (y1 - y0)) * (HEIGHT - 2 * PAD);
    const coords = numeric.map((_p, i) => `${sx(xs[i]).toFixed(1)},${sy(ys[i]).toFixed(1)}`);
    if (coords.length === 1) coords.unshift(`${PAD},${sy(ys[0]).toFixed(1)}`); // one reading: a level line
    this.line.setAttribute('points', coords.join(' '));
    const span = (x1 - x0) / 1e6;
    this.range.textContent =
      `${formatNumber(Math.min(...ys))} … ${formatNumber(Math.max(...ys))} ${series.unit}`.trim() +
      ` · ${numeric.length} readings over ${formatSpan(span)}`;
  }
}

function display(value) {
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

function formatSpan(seconds) {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
