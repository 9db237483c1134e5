import { z } from "zod";
import { base64url, fromBase64url } from "../platform/crypto.ts";

/**
 * Storage grants: what the transcoder presents to `/internal/storage` and to the task callback
 * for one task attempt. A grant is an HMAC-SHA256-signed, expiring statement about attempt A of
 * task T of job J (INTERNAL_SIGNING_SECRET), of one of two scopes:
 *
 * - `source`: GET and HEAD of one object, the job's master. The only credential ffmpeg is given
 *   (it travels in its `-headers`), so wherever it leaked it opens that one file for reading.
 * - `outputs`: read below the job's prefix (`videos/{videoId}/hls/`), and write, list and delete
 *   there only names that start with the attempt's tag (`c0003-a2-`, `finalize-a1-`); and report
 *   the attempt's progress and result. Never a name without the tag: what viewers are served first
 *   (`master.m3u8`) is written by the Worker when it publishes.
 *
 * A valid signature is not enough: `/internal/storage` also asks the database whether the attempt
 * is the task's running one, its job under way and its video not published (`liveAttempt`), so a
 * grant dies with its attempt, whatever its expiry says. The expiry (`exp`) bounds a grant whose
 * check cannot be made (a callback's is its own: a dead attempt's report is answered 409).
 *
 * Format: `<base64url(JSON payload)>.<base64url(signature)>`.
 */

const attemptFields = {
  /** The transcode job the grant was issued for. */
  job: z.string().min(1),
  /** The task and the attempt it was issued to. */
  task: z.string().min(1),
  attempt: z.number().int().positive(),
  /** Expiry, seconds since the epoch. */
  exp: z.number(),
};

const grantSchema = z.discriminatedUnion("scope", [
  z.object({ ...attemptFields, scope: z.literal("source"), key: z.string().min(1) }),
  z.object({
    ...attemptFields,
    scope: z.literal("outputs"),
    /** Ends with "/". */
    prefix: z.string().endsWith("/"),
    tag: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  }),
]);

export type StorageGrant = z.infer<typeof grantSchema>;
export type SourceGrant = Extract<StorageGrant, { scope: "source" }>;
export type OutputsGrant = Extract<StorageGrant, { scope: "outputs" }>;

export type GrantCheck = { ok: true; grant: StorageGrant } | { ok: false; reason: string };

const encoder = new TextEncoder();

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/**
 * @example
 * const token = await signStorageGrant(secret, { scope: "source", job: job.id, task: "plan", attempt: 1, key: job.sourceKey, exp });
 */
export async function signStorageGrant(secret: string, grant: StorageGrant): Promise<string> {
  const checked = grantSchema.parse(grant);
  const payload = base64url(encoder.encode(JSON.stringify(checked)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
}

/** Checks signature first (constant time, by WebCrypto), then shape and expiry. */
export async function verifyStorageGrant(secret: string, token: string, nowSeconds = Date.now() / 1000): Promise<GrantCheck> {
  const [payload, signature, extra] = token.split(".");
  const signatureBytes = signature === undefined ? undefined : fromBase64url(signature);
  if (!payload || !signatureBytes || extra !== undefined) return { ok: false, reason: "malformed grant" };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), signatureBytes, encoder.encode(payload));
  if (!valid) return { ok: false, reason: "bad signature" };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
  } catch {
    return { ok: false, reason: "malformed grant" };
  }
  const parsed = grantSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed grant" };
  if (parsed.data.exp <= nowSeconds) return { ok: false, reason: "expired grant" };
  return { ok: true, grant: parsed.data };
}

/** May the grant read (GET, HEAD) `key`? A source grant its one key; an outputs grant anything below its prefix. */
export function grantAllowsRead(grant: StorageGrant, key: string): boolean {
  return grant.scope === "source" ? key === grant.key : key.startsWith(grant.prefix);
}

/**
 * May the grant write, delete or list `keyOrPrefix`? Only an outputs grant, only below its prefix,
 * and only names that start with its tag (`720p/c0003-a2-00004.m4s`, or the prefix `720p/c0003-a2-`).
 */
export function grantAllowsWrite(grant: StorageGrant, keyOrPrefix: string): boolean {
  return grant.scope === "outputs" && isTaggedBelow(grant.prefix, grant.tag, keyOrPrefix);
}

/**
 * Whether `key` lies below `prefix` and its name starts with an attempt's `tag`: what that attempt
 * may have written (`videos/v/hls/720p/c0003-a2-00004.m4s` for `c0003-a2-`).
 */
export function isTaggedBelow(prefix: string, tag: string, key: string): boolean {
  return key.startsWith(prefix) && (key.split("/").at(-1) ?? "").startsWith(tag);
}

/** What the grant covers, in words for a refusal. */
export function describeGrant(grant: StorageGrant): string {
  return grant.scope === "source"
    ? `reading '${grant.key}' only`
    : `reading below ${grant.prefix}, and writing there only names starting with ${grant.tag}`;
}
