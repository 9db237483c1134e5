import { base64url, fromBase64url } from "../platform/crypto.ts";

/**
 * Storage grants: what the transcoder presents to `/internal/storage` and to the task callback
 * for one task attempt. A grant is an HMAC-SHA256-signed, expiring statement "attempt A of task T
 * of job J may read these keys, and write and delete below this prefix objects whose names start
 * with this tag" (INTERNAL_SIGNING_SECRET). It names no user and opens nothing else, so a leaked
 * grant exposes one video's source and outputs for a few hours at most, and a dead attempt's grant
 * cannot overwrite what another attempt wrote (its objects carry another tag).
 *
 * Format: `<base64url(JSON payload)>.<base64url(signature)>`.
 */
export interface StorageGrant {
  /** The transcode job the grant was issued for. */
  job: string;
  /** The task and the attempt it was issued to; the callback route accepts only these. */
  task?: string;
  attempt?: number;
  /** Keys that may be read (the source), besides everything below `prefix`. */
  read: string[];
  /** Prefix below which objects may be read, written, listed and deleted. Ends with "/". */
  prefix: string;
  /** When set, what is written or deleted must have a name (the key's last segment) that starts with it. */
  tag?: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export type GrantCheck = { ok: true; grant: StorageGrant } | { ok: false; reason: string };

const encoder = new TextEncoder();

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/**
 * @example
 * const token = await signStorageGrant(secret, { job: job.jobId, read: [job.sourceKey], prefix: outputPrefix(id), exp });
 */
export async function signStorageGrant(secret: string, grant: StorageGrant): Promise<string> {
  if (!grant.prefix.endsWith("/")) throw new Error("a grant prefix must end with '/'");
  const payload = base64url(encoder.encode(JSON.stringify(grant)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
}

/** Checks signature first (constant time, by WebCrypto), then expiry. */
export async function verifyStorageGrant(secret: string, token: string, nowSeconds = Date.now() / 1000): Promise<GrantCheck> {
  const [payload, signature, extra] = token.split(".");
  const signatureBytes = signature === undefined ? undefined : fromBase64url(signature);
  if (!payload || !signatureBytes || extra !== undefined) return { ok: false, reason: "malformed grant" };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), signatureBytes, encoder.encode(payload));
  if (!valid) return { ok: false, reason: "bad signature" };
  const payloadBytes = fromBase64url(payload);
  let grant: StorageGrant;
  try {
    grant = JSON.parse(new TextDecoder().decode(payloadBytes)) as StorageGrant;
  } catch {
    return { ok: false, reason: "malformed grant" };
  }
  if (typeof grant.exp !== "number" || grant.exp <= nowSeconds) return { ok: false, reason: "expired grant" };
  if (
    typeof grant.prefix !== "string" ||
    !grant.prefix.endsWith("/") ||
    !Array.isArray(grant.read) ||
    (grant.tag !== undefined && (typeof grant.tag !== "string" || grant.tag === "")) ||
    (grant.attempt !== undefined && !Number.isSafeInteger(grant.attempt))
  ) {
    return { ok: false, reason: "malformed grant" };
  }
  return { ok: true, grant };
}

/** May the grant read `key`? The listed source keys and anything below the prefix. */
export function grantAllowsRead(grant: StorageGrant, key: string): boolean {
  return grant.read.includes(key) || key.startsWith(grant.prefix);
}

/**
 * May the grant write, delete or list `keyOrPrefix`? Only at or below its own prefix, and with a
 * tag, only names that start with it (`720p/c0003-a2-00004.m4s`, or the prefix `720p/c0003-a2-`).
 */
export function grantAllowsWrite(grant: StorageGrant, keyOrPrefix: string): boolean {
  if (!keyOrPrefix.startsWith(grant.prefix)) return false;
  if (!grant.tag) return true;
  return (keyOrPrefix.split("/").at(-1) ?? "").startsWith(grant.tag);
}
