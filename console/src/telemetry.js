// Telemetry batches (msgpack byte streams, schema v1) and the per-device store they fill.
// Delivery is at-least-once and history can arrive after newer live batches, so readings are
// merged by `seq`: duplicates are dropped, order follows `seq`, not arrival.
import { decode } from '@msgpack/msgpack';
import { TOPICS } from './wire.generated.js';

export const SCHEMA_VERSION = 1;
export const DEFAULT_TOPIC = TOPICS.TELEMETRY;
export const EVENTS_TOPIC = TOPICS.EVENTS;
/** Byte-stream topics of files sent to us: log bundles and camera snapshots. */
export const FILE_TOPICS = [TOPICS.FILES, TOPICS.SNAPSHOT];
/** Readings kept per sensor; the oldest go first. */
const MAX_POINTS = 1000;

/**
 * @typedef {object} Reading
 * @property {number} seq
 * @property {number} timeUs  wall-clock µs since the epoch
 * @property {string} sensor
 * @property {number|boolean|string} value
 * @property {string} unit
 */

/** Decode one batch; throws an Error naming what is malformed. */
export function decodeBatch(bytes) {
  const data = decode(bytes);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error('telemetry batch: expected a map');
  }
  if (data.v !== SCHEMA_VERSION) throw new Error(`telemetry batch: schema version ${data.v}, want 1`);
  if (!Array.isArray(data.readings)) throw new Error('telemetry batch: readings is not a list');
  /** @type {Reading[]} */
  const readings = data.readings.map((row, i) => {
    if (!Array.isArray(row) || row.length !== 5) throw new Error(`telemetry batch: reading ${i} malformed`);
    const [seq, timeUs, sensor, value, unit] = row;
    return { seq: Number(seq), timeUs: Number(timeUs), sensor: String(sensor), value, unit: String(unit) };
  });
  return { spool: String(data.spool ?? ''), dropped: Number(data.dropped ?? 0), readings };
}

/** One sensor's readings, ordered by seq. */
export class Series {
  constructor(name) {
    this.name = name;
    this.unit = '';
    /** @type {Reading[]} */
    this.points = [];
  }

  /** Insert unless this seq is already here; true when added. */
  insert(reading) {
    const points = this.points;
    const last = points[points.length - 1];
    if (!last || reading.seq > last.seq) {
      points.push(reading);
    } else {
      let lo = 0;
      let hi = points.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (points[mid].seq < reading.seq) lo = mid + 1;
        else hi = mid;
      }
      if (points[lo]?.seq === reading.seq) return false;
      points.splice(lo, 0, reading);
    }
    this.unit = reading.unit || this.unit;
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    return true;
  }
}

/** Every sensor of one device, with the highest seq seen (for asking history for gaps). */
export class TelemetryStore {
  constructor() {
    this.spool = '';
    this.dropped = 0;
    this.highestSeq = 0;
    this.batches = 0;
    /** @type {Map<string, Series>} */
    this.sensors = new Map();
    /** Called with the set of sensor names that gained readings. */
    this.onChange = (_changed) => {};
  }

  /** Merge a decoded batch. */
  add(batch) {
    if (batch.spool && this.spool && batch.spool !== this.spool) {
      // A new spool restarts seq at 1: what we hold can no longer be merged by seq.
      this.sensors.clear();
      this.highestSeq = 0;
    }
    this.spool = batch.spool || this.spool;
    this.dropped = Math.max(this.dropped, batch.dropped);
    this.batches += 1;
    const changed = new Set();
    for (const reading of batch.readings) {
      let series = this.sensors.get(reading.sensor);
      if (!series) {
        series = new Series(reading.sensor);
        this.sensors.set(reading.sensor, series);
      }
      if (series.insert(reading)) changed.add(reading.sensor);
      this.highestSeq = Math.max(this.highestSeq, reading.seq);
    }
    if (changed.size) this.onChange(changed);
  }
}

/** Join the chunks of a byte stream. */
export function concat(chunks) {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
