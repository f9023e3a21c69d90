// A participant's media: one tile per subscribed video or audio track, whatever it publishes.
import { Track } from 'livekit-client';
import { h } from './dom.js';

export class MediaPanel {
  constructor() {
    this.tiles = h('div', { class: 'tiles' });
    this.empty = h('p', { class: 'muted', text: 'No camera or microphone published.' });
    this.element = h('div', { class: 'media' }, h('h3', { text: 'Media' }), this.empty, this.tiles);
    /** @type {Map<string, HTMLElement>} */
    this.bySid = new Map();
    /** @type {HTMLElement | null} */
    this.snap = null;
  }

  /**
   * Show a subscribed track.
   * @param {import('livekit-client').RemoteTrack} track
   * @param {import('livekit-client').RemoteTrackPublication} publication
   */
  attach(track, publication) {
    this.detach(track, publication);
    const element = track.attach();
    const video = track.kind === Track.Kind.Video;
    if (video) {
      element.muted = true; // video elements stay muted: sound comes from the audio tiles
      element.playsInline = true;
    } else {
      element.controls = true;
    }
    const label = h('figcaption', {}, h('span', { text: `${publication.trackName || track.kind} (${publication.source})` }), h('span', { class: 'muted-flag', text: ' muted', hidden: !publication.isMuted }));
    const tile = h('figure', { class: `tile ${track.kind}`, data: { kind: track.kind, track: publication.trackName, sid: publication.trackSid } }, element, label);
    this.tiles.append(tile);
    this.bySid.set(publication.trackSid, tile);
    this.empty.hidden = true;
  }

  /** Remove a track's tile (unsubscribed or unpublished). */
  detach(track, publication) {
    const tile = this.bySid.get(publication.trackSid);
    if (!tile) return;
    track?.detach();
    tile.remove();
    this.bySid.delete(publication.trackSid);
    this.empty.hidden = this.bySid.size > 0;
  }

  /** Show the latest camera snapshot (an object URL of the image). */
  snapshot(url, name) {
    if (this.snap) {
      URL.revokeObjectURL(this.snap.querySelector('img').src);
      this.snap.remove();
    }
    this.snap = h('figure', { class: 'tile snapshot', data: { name } }, h('img', { src: url, alt: `snapshot ${name}` }), h('figcaption', { text: name }));
    this.tiles.append(this.snap);
    this.empty.hidden = true;
  }

  /** Show a track's muted state. */
  muted(publication, isMuted) {
    const flag = this.bySid.get(publication.trackSid)?.querySelector('.muted-flag');
    if (flag) flag.hidden = !isMuted;
  }
}
