import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { users } from "../../schema/index.ts";
import type { AppEnv, AuthContext } from "./app-env.ts";
import { ApiError } from "./errors.ts";
import { enforceRateLimits } from "./rate-limit.ts";
import type { RateLimiters } from "./services.ts";
import { revokedSessionEntry } from "./session-revocation.ts";
import { InvalidTokenError, verifyAccessTokenCached } from "./tokens.ts";

// Authentication schemes are case-insensitive (RFC 9110 §11.1, which RFC 6750's "Bearer" follows):
// `bearer` and `BEARER` are the same scheme.
const bearer = /^Bearer +([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i;

/**
 * How each kind of route learns that a session was signed out (docs/users.md, "Sign-out"):
 * - `requireAuth` (account, admin, sign-out): asks the user's `ViewerState` before the route runs;
 *   exact, one Durable Object call.
 * - `requirePlaybackAuth` (play, progress): the route's own call to the user's object checks the
 *   session in the same RPC; exact, no extra call.
 * - `requireBrowseAuth` (catalog, home, search): the KV deny-list, read in the same KV call as the
 *   page; bounded by KV's propagation, no Durable Object call.
 * All three verify the token once per isolate (`verifyAccessTokenCached`); the session check runs
 * on every request.
 */

/** 401 for a session that was signed out (or ended by a reused refresh token). */
export function sessionEnded(): ApiError {
  return new ApiError("unauthorized", "This session has ended. Sign in again.", {
    headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_token"' },
  });
}

/** The request's access token, verified (signature, claims, expiry); 401 when it is missing or bad. */
async function authenticate(c: Context<AppEnv>): Promise<AuthContext> {
  const header = c.req.header("Authorization");
  if (!header) throw new ApiError("unauthorized", "Send an access token: Authorization: Bearer <token>.");
  const match = bearer.exec(header.trim());
  if (!match?.[1]) {
    throw new ApiError("unauthorized", "The Authorization header must be 'Bearer <access token>'.", {
      headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_request"' },
    });
  }
  const services = c.get("services");
  try {
    return await verifyAccessTokenCached(services.config, match[1], services.clock.now());
  } catch (error) {
    const reason = error instanceof InvalidTokenError ? error.message : "invalid token";
    throw new ApiError("unauthorized", `The access token is not valid (${reason}). Sign in again or refresh it.`, {
      headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_token"' },
    });
  }
}

/** Whether the user's `ViewerState` holds the session as revoked: the exact answer, wherever the request runs. */
function askViewerState(c: Context<AppEnv>, auth: AuthContext): Promise<boolean> {
  return c.get("services").viewerState(auth.userId).isSessionRevoked(auth.sessionId);
}

/** Whether this request ended in the session check's own refusal (nothing left to check). */
function refusedAsEnded(c: Context<AppEnv>): boolean {
  return c.error instanceof ApiError && c.error.code === "unauthorized";
}

/**
 * Requires a valid access token whose session is live, by asking the user's Durable Object before
 * the route runs: a signed-out token is refused on its next request at every location. For
 * account and admin routes and sign-out, which need that exactness.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const auth = await authenticate(c);
  if (await askViewerState(c, auth)) throw sessionEnded();
  c.set("auth", auth);
  await next();
});

/** Browse routes count every request per account (`CATALOG_USER_LIMITER`, 120 a minute in wrangler.toml). */
const BROWSE_PERIOD_SECONDS = 60;

/**
 * Browse routes (`/v1/videos…`, `/v1/home`, `/v1/search`): the token, the per-account limiter, and
 * the KV deny-list of signed-out sessions, read in the same KV call as the route's first read
 * (`Cache.readAlong`), so a warm request makes one KV round trip and no Durable Object call. The
 * answer is refused after the route ran when the session turns out to be revoked (browse routes
 * only read). A session signed out elsewhere is refused within KV's propagation bound (docs/users.md);
 * when KV cannot answer, the user's object is asked instead. Per-address limits are a WAF rule in
 * front of the Worker (docs/operations.md), not a second limiter call here.
 */
export const requireBrowseAuth = createMiddleware<AppEnv>(async (c, next) => {
  const auth = await authenticate(c);
  const services = c.get("services");
  await enforceRateLimits([
    { limiter: services.rateLimiters.catalogUser, period: BROWSE_PERIOD_SECONDS, key: `user:${auth.userId}`, subject: "this account" },
  ]);
  const revocation = services.cache.readAlong(revokedSessionEntry(services.config, auth.sessionId));
  c.set("auth", auth);
  await next();
  if (refusedAsEnded(c)) return;
  const listed = await revocation.result();
  if (listed.ok ? listed.value !== undefined : await askViewerState(c, auth)) throw sessionEnded();
});

/** The playback limiters: per account, sized so that a real player never meets them (wrangler.toml). */
const playbackLimits = {
  /** `PLAY_LIMITER`: 30 plays a minute per account. */
  play: { pick: (limiters: RateLimiters) => limiters.play, period: 60 },
  /** `PROGRESS_LIMITER`: 40 progress calls per 10 s per account (a player sends one every 5 s per screen). */
  progress: { pick: (limiters: RateLimiters) => limiters.progress, period: 10 },
} as const;

/**
 * Playback routes (play, progress): the token and the per-account limiter; the session is checked
 * by the route's own call to the user's `ViewerState`, in the same RPC as its work (a heartbeat is
 * one Durable Object call), and the route says so with `sessionChecked(c)`. When the route ends
 * without that call (an error before it, a HEAD), the object is asked before the answer leaves, so
 * a signed-out session always gets 401.
 */
export function requirePlaybackAuth(limit: keyof typeof playbackLimits) {
  const { pick, period } = playbackLimits[limit];
  return createMiddleware<AppEnv>(async (c, next) => {
    const auth = await authenticate(c);
    const services = c.get("services");
    await enforceRateLimits([{ limiter: pick(services.rateLimiters), period, key: `user:${auth.userId}`, subject: "this account" }]);
    c.set("auth", auth);
    await next();
    if (c.get("sessionChecked") === true || refusedAsEnded(c)) return;
    if (await askViewerState(c, auth)) throw sessionEnded();
  });
}

/** Says that the route's own call to the user's `ViewerState` found the session live (see `requirePlaybackAuth`). */
export function sessionChecked(c: Context<AppEnv>): void {
  c.set("sessionChecked", true);
}

/**
 * Requires an admin. The role is read from the primary database, not trusted from the token,
 * so `npm run admin -- revoke` (or a demotion) takes effect on the next request.
 */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const { userId } = c.get("auth");
  const [row] = await c.get("services").db.select({ role: users.role }).from(users).where(eq(users.id, userId));
  if (row?.role !== "admin") throw new ApiError("forbidden", "This action needs the admin role.");
  await next();
});
