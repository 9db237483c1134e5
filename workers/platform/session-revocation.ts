import { type CacheEntry, cacheEntry } from "./cache.ts";
import type { Config } from "./config.ts";

/**
 * Slack on every credential's expiry: jose accepts an access token 5 s past `exp`, and the
 * machines that sign and verify may disagree on the time by a little more.
 */
const CLOCK_SLACK_SECONDS = 60;

/** Why a session ended early (`sessions.revoked_reason`). */
export type RevocationReason = "signout" | "signout-everywhere" | "refresh-reuse" | "profile-deleted";

export interface RevokedSession {
  reason: RevocationReason;
  /** Milliseconds since the epoch. */
  at: number;
}

/**
 * How long a revocation must be remembered: until every credential derived from the session has
 * expired by itself. Those are its access tokens (`ACCESS_TOKEN_TTL_SECONDS`) and the signed media
 * URLs that play handed out (`MEDIA_TOKEN_TTL_SECONDS`, 4 h by default), whose only check after
 * sign-out is this revocation. Forgetting it earlier brings those URLs back to life.
 */
export function revocationLifetimeSeconds(config: Config): number {
  return Math.max(config.ACCESS_TOKEN_TTL_SECONDS, config.MEDIA_TOKEN_TTL_SECONDS) + CLOCK_SLACK_SECONDS;
}

/**
 * The browse routes' deny-list: one KV key per signed-out session, written at sign-out (and when a
 * reused refresh token ends the session), read in the same KV call as the page the request serves
 * (`Cache.readAlong`). Only access tokens are checked against it (media URLs ask the user's
 * Durable Object), so it lives as long as the last one: KV deletes it after that, and the
 * signature check alone refuses the tokens. `cacheTtl` 30 s is KV's minimum: how long a location
 * may answer from its own copy, including a copy of "no such key" read before the sign-out.
 */
export function revokedSessionEntry(config: Config, sessionId: string): CacheEntry<RevokedSession> {
  return cacheEntry<RevokedSession>(`v1:revoked-session:${sessionId}`, {
    // KV refuses an expirationTtl under 60 s.
    expirationTtl: Math.max(60, config.ACCESS_TOKEN_TTL_SECONDS + CLOCK_SLACK_SECONDS),
    cacheTtl: 30,
  });
}
