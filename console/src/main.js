// Entry point: the connect form (filled from the page address), the Room, and the board.
import { ConnectionState, Room, RoomEvent } from 'livekit-client';
import { Board } from './board.js';
import { readParams, signallingUrl, tokenClaims } from './params.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const form = /** @type {HTMLFormElement} */ ($('connect'));
const urlInput = /** @type {HTMLInputElement} */ ($('url'));
const tokenInput = /** @type {HTMLInputElement} */ ($('token'));
const status = $('status');
const leave = /** @type {HTMLButtonElement} */ ($('leave'));
const startAudio = /** @type {HTMLButtonElement} */ ($('start-audio'));
const devices = $('devices');

/** @type {Room | null} */
let room = null;

function showStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

async function connect(url, token) {
  await disconnect();
  let wsUrl;
  try {
    wsUrl = signallingUrl(url);
  } catch (err) {
    showStatus('error', err.message);
    return;
  }
  if (!token) {
    showStatus('error', 'token: required');
    return;
  }
  const claims = tokenClaims(token);
  const who = claims ? ` as ${claims.identity} to room ${claims.room}` : '';
  showStatus('connecting', `Connecting to ${wsUrl}${who}…`);
  const current = new Room({ adaptiveStream: false, dynacast: false });
  room = current;
  const board = new Board(current, devices);
  current.on(RoomEvent.ConnectionStateChanged, (state) => {
    if (state === ConnectionState.Reconnecting || state === ConnectionState.SignalReconnecting) {
      showStatus('connecting', 'Connection lost, reconnecting…');
    } else if (state === ConnectionState.Connected) {
      showStatus('connected', `Connected to room ${current.name} as ${current.localParticipant.identity}`);
    }
  });
  current.on(RoomEvent.Disconnected, (reason) => {
    if (room !== current) return;
    showStatus('error', `Disconnected (${reason ?? 'unknown reason'})`);
    leave.hidden = true;
  });
  current.on(RoomEvent.AudioPlaybackStatusChanged, () => {
    startAudio.hidden = current.canPlaybackAudio;
  });
  try {
    await current.connect(wsUrl, token, { autoSubscribe: true });
  } catch (err) {
    if (room === current) {
      room = null;
      showStatus('error', `Could not connect: ${err?.message ?? err}`);
    }
    return;
  }
  showStatus('connected', `Connected to room ${current.name} as ${current.localParticipant.identity}`);
  leave.hidden = false;
  startAudio.hidden = current.canPlaybackAudio;
  board.scan();
}

async function disconnect() {
  const current = room;
  room = null;
  leave.hidden = true;
  if (current) await current.disconnect();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  connect(urlInput.value.trim(), tokenInput.value.trim());
});
leave.addEventListener('click', async () => {
  await disconnect();
  showStatus('idle', 'Left the room.');
});
startAudio.addEventListener('click', async () => {
  await room?.startAudio();
  startAudio.hidden = room?.canPlaybackAudio ?? true;
});

const params = readParams();
urlInput.value = params.url;
tokenInput.value = params.token;
if (params.url && params.token) connect(params.url, params.token);
else showStatus('idle', 'Enter a LiveKit server URL and an access token.');
