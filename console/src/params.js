// Where to connect: `url` and `token` from the page address (fragment first, then query).
// The fragment is preferred because browsers never send it to the web server or in referrers.

/**
 * @typedef {object} ConnectParams
 * @property {string} url  LiveKit signalling URL (ws, wss, http or https)
 * @property {string} token  access token (JWT)
 */

/** The connection parameters found in `location`, or empty strings. */
export function readParams(location = window.location) {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromQuery = new URLSearchParams(location.search);
  const pick = (key) => fromHash.get(key) ?? fromQuery.get(key) ?? '';
  return { url: pick('url').trim(), token: pick('token').trim() };
}

/** `url` as a WebSocket URL; throws an Error naming what is wrong. */
export function signallingUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`server URL: not a URL: ${JSON.stringify(url)}`);
  }
  const schemes = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' };
  const scheme = schemes[parsed.protocol];
  if (!scheme) throw new Error(`server URL: expected ws, wss, http or https, got ${parsed.protocol}`);
  parsed.protocol = scheme;
  return parsed.toString().replace(/\/$/, '');
}

/** The identity and room a token claims (unverified), or null when it is not a JWT. */
export function tokenClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json);
    return { identity: String(claims.sub ?? ''), room: String(claims.video?.room ?? ''), exp: claims.exp };
  } catch {
    return null;
  }
}
