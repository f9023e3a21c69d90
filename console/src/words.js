// What went wrong, in words an operator can act on: disconnect reasons and connect failures.
import { ConnectionErrorReason, DisconnectReason } from 'livekit-client';

/** Why the room connection ended (livekit-client's DisconnectReason), as a sentence. */
const DISCONNECTS = {
  [DisconnectReason.CLIENT_INITIATED]: 'You left the room.',
  [DisconnectReason.DUPLICATE_IDENTITY]:
    'Another window or tab joined the room with the same identity, so this one was disconnected.',
  [DisconnectReason.SERVER_SHUTDOWN]: 'The LiveKit server shut down.',
  [DisconnectReason.PARTICIPANT_REMOVED]: 'You were removed from the room.',
  [DisconnectReason.ROOM_DELETED]: 'The room was deleted.',
  [DisconnectReason.ROOM_CLOSED]: 'The room was closed.',
  [DisconnectReason.STATE_MISMATCH]: 'The server no longer knew this connection.',
  [DisconnectReason.JOIN_FAILURE]: 'Joining the room failed.',
  [DisconnectReason.MIGRATION]: 'The server moved the room elsewhere.',
  [DisconnectReason.SIGNAL_CLOSE]: 'The connection to the server was lost and could not be restored.',
  [DisconnectReason.CONNECTION_TIMEOUT]: 'The connection to the server timed out.',
  [DisconnectReason.MEDIA_FAILURE]: 'The media connection failed.',
};

/** @param {number | undefined} reason */
export function disconnectText(reason) {
  return DISCONNECTS[reason ?? DisconnectReason.UNKNOWN_REASON] ?? 'The connection to the server ended.';
}

/**
 * Why `connect` failed, as a sentence.
 * @param {any} err  a livekit-client ConnectionError or any Error
 * @param {string} url  the signalling URL that was tried
 */
export function connectErrorText(err, url) {
  const message = String(err?.message ?? err);
  if (err?.reason === ConnectionErrorReason.NotAllowed || err?.status === 401 || err?.status === 403) {
    return `The server at ${url} refused the token (${message}). Get a fresh one and try again.`;
  }
  const unreachable = [ConnectionErrorReason.ServerUnreachable, ConnectionErrorReason.WebSocket].includes(err?.reason);
  if (unreachable || /failed to fetch|networkerror/i.test(message)) {
    return `The LiveKit server at ${url} can't be reached. Check the address and that the server is running.`;
  }
  if (err?.reason === ConnectionErrorReason.Timeout) return `The LiveKit server at ${url} did not answer in time.`;
  return message;
}
