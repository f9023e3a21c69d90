// RPC calls to one participant: JSON in, JSON out, failures as CallFailed with a code and a name.
import { RpcError } from 'livekit-client';
import { ERROR_CODES, LIVEKIT_CODES } from './wire.generated.js';

export const ACCESS_DENIED = ERROR_CODES.ACCESS_DENIED;
export const UNSUPPORTED_METHOD = LIVEKIT_CODES.UNSUPPORTED_METHOD;
const RESPONSE_TIMEOUT_MS = 10000;

/** A call that came back with an RPC error (or could not be made). */
export class CallFailed extends Error {
  /**
   * @param {string} method
   * @param {number} code  0 when there was no RPC error code (e.g. a reply that is not JSON)
   * @param {string} reason  the error message as the callee sent it
   * @param {string} codeName
   */
  constructor(method, code, reason, codeName) {
    super(`${method} failed: ${code ? `${code} ${codeName}: ` : ''}${reason}`);
    this.method = method;
    this.code = code;
    this.reason = reason;
    this.codeName = codeName;
  }

  /** The callee refused on purpose (allow-list or someone else's lease). */
  get denied() {
    return this.code === ACCESS_DENIED;
  }
}

/** Calls JSON methods on one remote participant. */
export class RpcCaller {
  /**
   * @param {import('livekit-client').Room} room
   * @param {string} identity  the participant to call
   */
  constructor(room, identity) {
    this.room = room;
    this.identity = identity;
    /** @type {Record<number, string>} */
    this.codes = {};
    this.learnCodes(LIVEKIT_CODES); // LiveKit's own (1400-1505), as every SDK names them
    this.learnCodes(ERROR_CODES); // the edge's codes as built; `edge.describe` may name more
  }

  /** Adopt the `errors` map of an `edge.describe` answer ({"ACCESS_DENIED": 2003, ...}). */
  learnCodes(errors) {
    for (const [name, code] of Object.entries(errors ?? {})) {
      if (Number.isInteger(code)) this.codes[code] = name.toLowerCase().replace(/_/g, ' ');
    }
  }

  /** Call `method` with `params` (an object); resolve to the parsed reply or throw CallFailed. */
  async call(method, params = {}) {
    let reply;
    try {
      reply = await this.room.localParticipant.performRpc({
        destinationIdentity: this.identity,
        method,
        payload: JSON.stringify(params),
        responseTimeout: RESPONSE_TIMEOUT_MS,
      });
    } catch (err) {
      if (err instanceof RpcError) {
        throw new CallFailed(method, err.code, err.message, this.codes[err.code] ?? 'error');
      }
      throw new CallFailed(method, 0, String(err?.message ?? err), 'error');
    }
    if (!reply) return null;
    try {
      return JSON.parse(reply);
    } catch {
      throw new CallFailed(method, 0, `reply is not JSON: ${reply.slice(0, 80)}`, 'bad reply');
    }
  }
}
