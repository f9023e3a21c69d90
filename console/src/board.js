// The room as the operator sees it: one card per edge participant, fed by room events.
import { RoomEvent } from 'livekit-client';
import { DeviceCard } from './device.js';
import { h } from './dom.js';
import { concat, decodeBatch, DEFAULT_TOPIC, EVENTS_TOPIC, FILE_TOPICS, TelemetryStore } from './telemetry.js';
import { ATTRIBUTES } from './wire.generated.js';

/**
 * An edge participant announces itself in its attributes. `edge.version` comes with its device
 * twin, once its services run (`edge.status` is there from the join, before its methods are).
 */
export function isEdge(participant) {
  return Object.hasOwn(participant.attributes ?? {}, ATTRIBUTES.VERSION);
}

export class Board {
  /**
   * @param {import('livekit-client').Room} room
   * @param {HTMLElement} container
   */
  constructor(room, container) {
    this.room = room;
    this.container = container;
    /** @type {Map<string, DeviceCard>} */
    this.cards = new Map();
    /** Readings arrive before a participant's attributes may say it is an edge: keep them. */
    /** @type {Map<string, TelemetryStore>} */
    this.stores = new Map();
    this.topics = new Set();
    this.empty = h('p', { class: 'empty muted', text: 'No edge participants in this room yet.' });
    container.replaceChildren(this.empty);
    this._wire();
    this.listenTelemetry(DEFAULT_TOPIC);
    room.registerTextStreamHandler(EVENTS_TOPIC, async (reader, from) => {
      const text = await reader.readAll();
      this.cards.get(from.identity)?.event(text);
    });
    for (const topic of FILE_TOPICS) {
      room.registerByteStreamHandler(topic, async (reader, from) => {
        const chunks = await reader.readAll();
        const blob = new Blob(chunks, { type: reader.info.mimeType || 'application/octet-stream' });
        this.cards.get(from.identity)?.file(reader.info.name, blob);
      });
    }
  }

  /** The room connection ended (`why`, in words): every card goes stale, its controls off. */
  close(why) {
    this.closed = true;
    for (const card of this.cards.values()) card.stale(`Not connected: ${why}`);
    this.empty.textContent = 'Not connected.';
  }

  /** The connection is down and being restored (`why`), or restored (null). */
  suspend(why) {
    for (const card of this.cards.values()) card.suspend(why);
  }

  /** Everyone already in the room (call once connected). */
  scan() {
    for (const participant of this.room.remoteParticipants.values()) this._consider(participant);
  }

  /** Decode byte streams on `topic` as telemetry batches (once per topic). */
  listenTelemetry(topic) {
    if (this.topics.has(topic)) return;
    this.topics.add(topic);
    this.room.registerByteStreamHandler(topic, async (reader, from) => {
      const chunks = await reader.readAll();
      let batch;
      try {
        batch = decodeBatch(concat(chunks));
      } catch (err) {
        console.warn(`telemetry from ${from.identity} ignored: ${err.message}`);
        return;
      }
      this._store(from.identity).add(batch);
    });
  }

  _store(identity) {
    let store = this.stores.get(identity);
    if (!store) {
      store = new TelemetryStore();
      this.stores.set(identity, store);
    }
    return store;
  }

  _wire() {
    const room = this.room;
    room.on(RoomEvent.ParticipantConnected, (p) => this._consider(p));
    room.on(RoomEvent.ParticipantDisconnected, (p) => this._remove(p.identity));
    room.on(RoomEvent.ParticipantAttributesChanged, (changed, p) => {
      if (p === room.localParticipant) return;
      const card = this.cards.get(p.identity);
      if (card && !card.isStale) card.attributesChanged(p.attributes, changed);
      else this._consider(p);
    });
    room.on(RoomEvent.ParticipantNameChanged, (_name, p) => this.cards.get(p.identity)?.attributesChanged(p.attributes));
    room.on(RoomEvent.TrackSubscribed, (track, pub, p) => this.cards.get(p.identity)?.media.attach(track, pub));
    room.on(RoomEvent.TrackUnsubscribed, (track, pub, p) => this.cards.get(p.identity)?.media.detach(track, pub));
    room.on(RoomEvent.TrackMuted, (pub, p) => this.cards.get(p.identity)?.media.muted(pub, true));
    room.on(RoomEvent.TrackUnmuted, (pub, p) => this.cards.get(p.identity)?.media.muted(pub, false));
  }

  _consider(participant) {
    if (this.closed || !isEdge(participant)) return;
    const previous = this.cards.get(participant.identity);
    if (previous && !previous.isStale) return;
    if (previous) this.stores.delete(participant.identity); // back again: a fresh card
    const card = new DeviceCard(this.room, participant, this._store(participant.identity), (t) => this.listenTelemetry(t));
    this.cards.set(participant.identity, card);
    const ordered = [...this.cards.values()].sort((a, b) => a.participant.identity.localeCompare(b.participant.identity));
    this.container.replaceChildren(...ordered.map((c) => c.element));
    for (const pub of participant.trackPublications.values()) {
      if (pub.track) card.media.attach(pub.track, pub);
    }
    card.start();
  }

  /** The device left the room: its card stays, marked offline, until it comes back. */
  _remove(identity) {
    const card = this.cards.get(identity);
    if (!card || this.closed) return;
    const time = new Date().toLocaleTimeString([], { hour12: false });
    card.stale(`${identity} left the room at ${time}; the values below are the last it reported.`);
  }
}
