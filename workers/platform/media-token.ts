import type { Config, MediaSigningKey } from "./config.ts";
import { base64url, fromBase64url } from "./crypto.ts";

/**
 * Signed media tokens. A token is one URL path segment, placed right after the video id:
 *
 *     /media/{videoId}/{token}/hls/master.m3u8
 *     token = v2.{kid}.{exp}.{maxHeight}.{userId}.{sessionId}.{leaseId}.{signature}
 *
 * `signature` is HMAC-SHA256 (base64url) over `{videoId}.` followed by everything before it, so a
 * token is bound to one video, one session, one play of it (`leaseId`, the stream whose screen
 * lease it rides on) and one plan height, and expires at `exp` (Unix seconds). Because the token is a path segment, every relative URI inside a playlist (variant
 * playlists, `EXT-X-MAP` init segments, media segments, the storyboard's sprite) resolves below it
 * and carries it without the player knowing: hls.js, Safari, ExoPlayer and ffmpeg play it unchanged.
 * `kid` names the key: the first key of `MEDIA_SIGNING_KEYS` signs, every key verifies.
 */
export interface MediaGrant {
  videoId: string;
  userId: string;
  sessionId: string;
  /** The play this token was issued for: its screen lease in the user's `ViewerState`. */
  leaseId: string;
  maxHeight: number;
  /** Unix seconds. */
  expiresAt: number;
}

export type MediaTokenFailure = "missing" | "malformed" | "outdated" | "unknown-key" | "bad-signature" | "expired";

export class MediaTokenError extends Error {
  constructor(readonly reason: MediaTokenFailure) {
    super(reason);
  }
}

const VERSION = "v2";
const encoder = new TextEncoder();
const idPart = /^[A-Za-z0-9-]{1,64}$/;

/** A signature as the token carries it: exactly 43 base64url characters (32 bytes). */
/**
 * A 32-byte signature in base64url: 43 characters, the last one carrying 4 bits and 2 unused ones,
 * which must be 0 (A, E, I, …), so that one signature has one spelling and no other verifies.
 */
function signatureBytes(text: string): Uint8Array<ArrayBuffer> | null {
  return /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/.test(text) ? (fromBase64url(text) ?? null) : null;
}

function signingInput(videoId: string, unsigned: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${videoId}.${unsigned}`) as Uint8Array<ArrayBuffer>;
}

/**
 * Signs a token for `grant` with the first (current) media key.
 *
 * @example
 * const token = await signMediaToken(config, { videoId, userId, sessionId, maxHeight: 1080, expiresAt: now + 14400 });
 */
export async function signMediaToken(config: Pick<Config, "mediaSigningKeys">, grant: MediaGrant): Promise<string> {
  const [key] = config.mediaSigningKeys;
  if (!key) throw new Error("no media signing key configured");
  for (const part of [grant.userId, grant.sessionId, grant.leaseId]) {
    if (!idPart.test(part)) throw new Error("user, session and lease ids must be URL-safe");
  }
  const unsigned = [VERSION, key.kid, grant.expiresAt, grant.maxHeight, grant.userId, grant.sessionId, grant.leaseId].join(".");
  const signature = await crypto.subtle.sign("HMAC", key.key, signingInput(grant.videoId, unsigned));
  return `${unsigned}.${base64url(signature)}`;
}

/**
 * The subject of preview grants: a token that opens a video's previews (poster, storyboard) and
 * nothing else, for the catalog's `posterUrl` and `thumbnailsUrl`. Real user and session ids are
 * UUIDs, so this value never names a viewer.
 */
export const PREVIEW_SUBJECT = "preview";

/** How long a preview URL stays valid: whole days, so one URL serves every viewer all day (and caches well). */
const PREVIEW_DAY_SECONDS = 86_400;

/**
 * A preview token for a video: expires at the end of the day after tomorrow (UTC), so URLs built
 * today are identical for everyone and outlive any cached catalog entry that carries them.
 */
export function signPreviewToken(config: Pick<Config, "mediaSigningKeys">, videoId: string, nowSeconds: number) {
  const expiresAt = (Math.floor(nowSeconds / PREVIEW_DAY_SECONDS) + 3) * PREVIEW_DAY_SECONDS;
  return signMediaToken(config, {
    videoId,
    userId: PREVIEW_SUBJECT,
    sessionId: PREVIEW_SUBJECT,
    leaseId: PREVIEW_SUBJECT,
    maxHeight: 0,
    expiresAt,
  });
}

export function isPreviewGrant(grant: MediaGrant): boolean {
  return grant.userId === PREVIEW_SUBJECT && grant.sessionId === PREVIEW_SUBJECT && grant.leaseId === PREVIEW_SUBJECT;
}

/** Whether a path segment is meant as a media token (of this or an earlier version), rather than a file name. */
export function looksLikeMediaToken(segment: string | undefined): boolean {
  return /^v\d+\./.test(segment ?? "");
}

/** Checks a token for `videoId`; throws `MediaTokenError` saying why it is refused. */
export async function verifyMediaToken(
  config: Pick<Config, "mediaSigningKeys">,
  videoId: string,
  token: string | undefined,
  nowSeconds: number,
): Promise<MediaGrant> {
  if (!token) throw new MediaTokenError("missing");
  const parts = token.split(".");
  // A token of an earlier version (v1 had no lease id) was issued before a deploy: ask for a new one.
  if (/^v\d+$/.test(parts[0] ?? "") && parts[0] !== VERSION) throw new MediaTokenError("outdated");
  if (parts.length !== 8 || parts[0] !== VERSION) throw new MediaTokenError("malformed");
  const [, kid, exp, height, userId, sessionId, leaseId, signatureText] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^\d{1,12}$/.test(exp) || !/^\d{1,5}$/.test(height) || ![userId, sessionId, leaseId].every((part) => idPart.test(part))) {
    throw new MediaTokenError("malformed");
  }
  const signature = signatureBytes(signatureText);
  if (!signature) throw new MediaTokenError("malformed");
  const key: MediaSigningKey | undefined = config.mediaSigningKeys.find((candidate) => candidate.kid === kid);
  if (!key) throw new MediaTokenError("unknown-key");
  const unsigned = token.slice(0, token.length - signatureText.length - 1);
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", key.key, signature, signingInput(videoId, unsigned)))) {
    throw new MediaTokenError("bad-signature");
  }
  const expiresAt = Number(exp);
  if (expiresAt <= nowSeconds) throw new MediaTokenError("expired");
  return { videoId, userId, sessionId, leaseId, maxHeight: Number(height), expiresAt };
}

/** What a refused viewer is told (403 problem+json). */
export function describeTokenFailure(reason: MediaTokenFailure): string {
  switch (reason) {
    case "missing":
      return "This media URL has no signature. Ask for a new one with GET /v1/videos/{id}/play.";
    case "malformed":
      return "This media URL's signature is malformed. Use the manifestUrl from GET /v1/videos/{id}/play unchanged.";
    case "outdated":
      return "This media URL is in a format that is no longer accepted. Ask for a new one with GET /v1/videos/{id}/play.";
    case "unknown-key":
      return "This media URL was signed with a key that is no longer accepted. Ask for a new one with GET /v1/videos/{id}/play.";
    case "bad-signature":
      return "This media URL's signature does not match: it was altered, or it was issued for another video.";
    case "expired":
      return "This media URL has expired. Ask for a new one with GET /v1/videos/{id}/play.";
  }
}
