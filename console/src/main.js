// Entry point: the connect form (filled from the page address), the Room, and the board.
import { ConnectionState, DisconnectReason, Room, RoomEvent } from 'livekit-client';
import { Board } from './board.js';
import { readParams, signallingUrl, tokenClaims } from './params.js';
import { connectErrorText, disconnectText } from './words.js';
import { ATTRIBUTES } from './wire.generated.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const form = /** @type {HTMLFormElement} */ ($('connect'));
const urlInput = /** @type {HTMLInputElement} */ ($('url'));
const tokenInput = /** @type {HTMLInputElement} */ ($('token'));
const status = $('status');
const leave = /** @type {HTMLButtonElement} */ ($('leave'));
const startAudio = /** @type {HTMLButtonElement} */ ($('start-audio'));
const reconnect = /** @type {HTMLButtonElement} */ ($('reconnect'));
const devices = $('devices');
const hint = $('token-hint');

/** @type {Room | null} */
let room = null;
/** @type {Board | null} */
let board = null;
/** What the last attempt used, for the reconnect button. */
let last = { url: '', token: '' };

/** `state`: idle, connecting, connected, disconnected or error. */
function showStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
  hint.hidden = state === 'connected' || state === 'connecting';
  reconnect.hidden = !(state === 'disconnected' || state === 'error') || !last.url || !last.token;
}

/** The room is gone: every card turns stale at once, the status says why. */
function ended(text) {
  board?.close(text);
  board = null;
  leave.hidden = true;
  startAudio.hidden = true;
  showStatus('disconnected', `Disconnected: ${text}`);
}

async function connect(url, token) {
  await disconnect();
  if (!url) {
    showStatus('error', 'Enter the server URL (ws://… or wss://…).');
    return;
  }
  let wsUrl;
  try {
    wsUrl = signallingUrl(url);
  } catch (err) {
    showStatus('error', err.message);
    return;
  }
  if (!token) {
    showStatus('error', 'Enter an access token (see the hint below the form).');
    return;
  }
  last = { url, token };
  const claims = tokenClaims(token);
  const who = claims ? ` as ${claims.identity} to room ${claims.room}` : '';
  showStatus('connecting', `Connecting to ${wsUrl}${who}…`);
  const current = new Room({ adaptiveStream: false, dynacast: false });
  room = current;
  const currentBoard = new Board(current, devices);
  board = currentBoard;
  current.on(RoomEvent.ConnectionStateChanged, (state) => {
    if (state === ConnectionState.Reconnecting || state === ConnectionState.SignalReconnecting) {
      showStatus('connecting', 'Connection lost, reconnecting…');
      currentBoard.suspend('Connection to the server lost; reconnecting… Controls are off until it is back.');
    } else if (state === ConnectionState.Connected) {
      currentBoard.suspend(null);
      showStatus('connected', `Connected to room ${current.name} as ${current.localParticipant.identity}`);
    }
  });
  let joined = false;
  current.on(RoomEvent.Disconnected, (reason) => {
    if (room !== current || !joined) return; // a failed join is reported where connect() fails
    room = null;
    ended(disconnectText(reason));
  });
  current.on(RoomEvent.AudioPlaybackStatusChanged, () => {
    startAudio.hidden = current.canPlaybackAudio;
  });
  try {
    await current.connect(wsUrl, token, { autoSubscribe: true });
    joined = true;
    // Edges with `[telemetry] audience = "announced"` stream live readings only to those who ask.
    // A token without the grant to set attributes still sees the edges that send to everyone.
    current.localParticipant.setAttributes({ [ATTRIBUTES.WANTS_TELEMETRY]: '*' }).catch(() => {});
  } catch (err) {
    if (room === current) {
      room = null;
      showStatus('error', `Could not connect: ${connectErrorText(err, wsUrl)}`);
    }
    return;
  }
  showStatus('connected', `Connected to room ${current.name} as ${current.localParticipant.identity}`);
  leave.hidden = false;
  startAudio.hidden = current.canPlaybackAudio;
  currentBoard.scan();
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
  const current = board;
  await disconnect();
  board = current;
  ended(disconnectText(DisconnectReason.CLIENT_INITIATED));
});
reconnect.addEventListener('click', () => connect(last.url, last.token));
startAudio.addEventListener('click', async () => {
  await room?.startAudio();
  startAudio.hidden = room?.canPlaybackAudio ?? true;
});

const params = readParams();
urlInput.value = params.url;
tokenInput.value = params.token;
if (params.url && params.token) connect(params.url, params.token);
else showStatus('idle', 'Enter a LiveKit server URL and an access token.');
