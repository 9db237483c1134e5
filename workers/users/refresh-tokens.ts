import { base64url, sha256Hex } from "../platform/crypto.ts";

/**
 * Refresh tokens: `rsr_<object>.<family>.<secret>`, opaque to clients (docs/api.md).
 * - `object`: the id of the user's `ViewerState` (64 hex digits), which routes a refresh to the
 *   object without Postgres. The runtime refuses an id it did not make (`idFromString` checks it),
 *   so a forged token costs no Durable Object call and creates no object.
 * - `family`: 128 random bits, the same in every token of one session; the object finds the
 *   session by its hash.
 * - `secret`: 256 random bits, new at every rotation; the object holds the hash of the live token.
 * The object, not the token, decides: an id that verifies proves only which object to ask.
 */
const REFRESH_TOKEN = /^rsr_([0-9a-f]{64})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export interface RefreshToken {
  /** The token as the client holds it. */
  value: string;
  /** The user's `ViewerState` id, hex. */
  objectId: string;
  family: string;
}

function randomPart(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A new token for the session `family` of the object `objectId` (a new family for a new session). */
export function issueRefreshToken(objectId: string, family = randomPart(16)): RefreshToken {
  return { value: `rsr_${objectId}.${family}.${randomPart(32)}`, objectId, family };
}

/** The token's parts, or undefined for anything that is not one of ours. */
export function parseRefreshToken(value: string): RefreshToken | undefined {
  const match = REFRESH_TOKEN.exec(value);
  if (!match?.[1] || !match[2]) return undefined;
  return { value, objectId: match[1], family: match[2] };
}

/** What the object stores of a token: hashes of its family and of the whole token. */
export async function refreshTokenHashes(token: RefreshToken): Promise<{ familyHash: string; tokenHash: string }> {
  const [familyHash, tokenHash] = await Promise.all([sha256Hex(token.family), sha256Hex(token.value)]);
  return { familyHash, tokenHash };
}
