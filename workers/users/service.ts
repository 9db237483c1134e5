import { and, eq, inArray, isNull, type SQL } from "drizzle-orm";
import { sessions, type User, users } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import { hashPassword, needsRehash, verifyDecoy, verifyPassword } from "../platform/passwords.ts";
import type { Services } from "../platform/services.ts";
import { type RevocationReason, revocationLifetimeSeconds, revokedSessionEntry } from "../platform/session-revocation.ts";
import { hasSqlState, SqlState } from "../platform/sql-errors.ts";
import { signAccessToken } from "../platform/tokens.ts";
import { accountCopyOf, toPublicUser } from "./account-copies.ts";
import { issueRefreshToken, parseRefreshToken, refreshTokenHashes } from "./refresh-tokens.ts";
import type { PublicUser } from "./schema.ts";

export interface IssuedTokens {
  user: PublicUser;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  /** When the session ends whatever the refreshes (ms since the epoch): the refresh cookie's lifetime. */
  sessionExpiresAt: number;
}

/**
 * Opens a session (a device) and issues its first token pair. The session lives in the user's
 * `ViewerState` (with the account's copy); `db`, the caller's transaction, records its copy in
 * Postgres first, so a session the object refused leaves no row, and a commit that fails leaves
 * only an object session whose tokens nobody received, which ends by itself.
 */
async function openSession(
  services: Services,
  db: Pick<Database, "insert">,
  user: User,
  userAgent: string | undefined,
  options: { newAccount?: boolean } = {},
): Promise<IssuedTokens> {
  const { config } = services;
  const now = services.clock.now();
  const sessionId = crypto.randomUUID();
  const expiresAt = now + config.REFRESH_TOKEN_TTL_SECONDS * 1000;
  const viewerState = services.viewerState(user.id);
  const refreshToken = issueRefreshToken(viewerState.id.toString());
  const hashes = await refreshTokenHashes(refreshToken);
  const agent = userAgent?.slice(0, 256) ?? null;
  await db
    .insert(sessions)
    .values({ id: sessionId, userId: user.id, createdAt: new Date(now), expiresAt: new Date(expiresAt), userAgent: agent });
  // The session starts on the account's default profile; the object answers its ceiling.
  const profile = await viewerState.openSession({
    session: { id: sessionId, ...hashes, expiresAt, userAgent: agent },
    account: accountCopyOf(user),
    // A new account has no subscription: its first play needs no query.
    subscription: options.newAccount ? { subscription: null, version: 0 } : undefined,
  });
  const accessToken = await signAccessToken(
    config,
    { userId: user.id, sessionId, role: user.role, profileId: profile.id, maturityCeiling: profile.maturityCeiling },
    now,
  );
  return {
    user: toPublicUser(user),
    accessToken,
    refreshToken: refreshToken.value,
    expiresIn: config.ACCESS_TOKEN_TTL_SECONDS,
    sessionExpiresAt: expiresAt,
  };
}

export async function signUp(
  services: Services,
  input: { email: string; password: string; name: string },
  userAgent?: string,
): Promise<IssuedTokens> {
  const passwordHash = await hashPassword(input.password);
  const now = new Date(services.clock.now());
  try {
    // The account and its first session in one transaction: if the user's object cannot open the
    // session, no account is left behind to make a retry answer "email taken".
    return await services.db.transaction(async (tx) => {
      const [user] = await tx
        .insert(users)
        .values({
          id: crypto.randomUUID(),
          email: input.email,
          name: input.name,
          passwordHash,
          createdAt: now,
          updatedAt: now,
          copiedAt: now,
        })
        .returning();
      if (!user) throw new Error("insert returned no row");
      return openSession(services, tx, user, userAgent, { newAccount: true });
    });
  } catch (error) {
    if (hasSqlState(error, SqlState.uniqueViolation)) {
      throw new ApiError("conflict", "An account with this email already exists. Sign in instead, or use another email.");
    }
    throw error;
  }
}

/** Unknown email and wrong password take the same path and the same time, and answer the same. */
export async function signIn(services: Services, input: { email: string; password: string }, userAgent?: string): Promise<IssuedTokens> {
  const [found] = await services.db.select().from(users).where(eq(users.email, input.email));
  const valid = found ? await verifyPassword(found.passwordHash, input.password) : await verifyDecoy(input.password);
  if (!found || !valid) {
    throw new ApiError("invalid-credentials", "The email or the password is wrong.");
  }
  let user = found;
  if (needsRehash(user.passwordHash)) {
    const [rehashed] = await services.db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password), updatedAt: new Date(services.clock.now()) })
      .where(eq(users.id, user.id))
      .returning();
    user = rehashed ?? user;
  }
  return services.db.transaction((tx) => openSession(services, tx, user, userAgent));
}

/**
 * What follows a revocation the user's object has made: the browse routes' KV deny-list (one
 * key per session, awaited: it is what browse routes read) and the Postgres copy (written behind,
 * best effort: the object is the record, and the copy must not hold up a sign-out while Postgres
 * is down). A KV write that fails leaves browse routes to the access token's expiry for that session.
 */
export async function afterRevocation(
  services: Services,
  revoked: { userId: string; sessionIds: string[] },
  reason: RevocationReason,
  now: number,
): Promise<void> {
  if (revoked.sessionIds.length === 0) return;
  const { config, db } = services;
  const which: SQL | undefined =
    reason === "signout-everywhere" ? eq(sessions.userId, revoked.userId) : inArray(sessions.id, revoked.sessionIds);
  services.waitUntil(
    db
      .update(sessions)
      .set({ revokedAt: new Date(now), revokedReason: reason })
      .where(and(which, isNull(sessions.revokedAt)))
      .then(
        () => undefined,
        (error: unknown) => services.log.warn("session revocation not copied to Postgres; the user's object holds it", { reason, error }),
      ),
  );
  const listed = await Promise.all(
    revoked.sessionIds.map((sessionId) => services.cache.put(revokedSessionEntry(config, sessionId), { reason, at: now })),
  );
  const missed = revoked.sessionIds.filter((_, i) => !listed[i]);
  if (missed.length > 0) {
    // Browse routes fall back to the access token's expiry (ACCESS_TOKEN_TTL_SECONDS) for these sessions.
    services.log.error("sign-out not written to the KV deny-list; browse routes accept the session until its tokens expire", {
      sessionIds: missed,
    });
  }
}

/** When the object may forget a revocation made now (see `revocationLifetimeSeconds`). */
export function forgetAfter(services: Services, now: number): number {
  return now + revocationLifetimeSeconds(services.config) * 1000;
}

/**
 * Ends a session, in the user's `ViewerState`: its refresh token dies at once, and the object
 * remembers the revocation until the last credential derived from the session has expired by
 * itself (access tokens and signed media URLs: `revocationLifetimeSeconds`), so playback, account
 * and admin routes and the media space refuse the session at once. Browse routes read the KV
 * deny-list written here, which reaches other locations within KV's propagation bound (docs/users.md).
 * Needs no Postgres.
 */
export async function revokeSession(
  services: Services,
  target: { userId: string; sessionId: string },
  reason: RevocationReason,
): Promise<void> {
  const now = services.clock.now();
  await services.viewerState(target.userId).revokeSession(target.sessionId, forgetAfter(services, now));
  await afterRevocation(services, { userId: target.userId, sessionIds: [target.sessionId] }, reason, now);
}

/** Signs out everywhere: every session of the user ends at once, as `revokeSession` ends one. Answers how many. */
export async function revokeAllSessions(services: Services, userId: string): Promise<number> {
  const now = services.clock.now();
  const sessionIds = await services.viewerState(userId).revokeAllSessions(forgetAfter(services, now));
  await afterRevocation(services, { userId, sessionIds }, "signout-everywhere", now);
  return sessionIds.length;
}

/**
 * Exchanges a refresh token for a new pair, in the user's `ViewerState` (the token says which
 * object; no Postgres). Each token works once: a second use means it was stolen or replayed, so
 * the object revokes the whole session and both holders must sign in again; except within
 * `REFRESH_GRACE_MS` of its rotation, when the same token gets another successor (a client
 * retrying after a lost answer, or sending it several times at once). The access token
 * claims the account as the object holds it, so a role change that reached the object is what
 * the next refresh signs.
 */
export async function refreshSession(services: Services, presented: string): Promise<IssuedTokens> {
  const invalid = () => new ApiError("unauthorized", "The refresh token is not valid. Sign in again.");
  const token = parseRefreshToken(presented);
  const viewerState = token && services.viewerStateById(token.objectId);
  if (!token || !viewerState) throw invalid();
  const { config } = services;
  const now = services.clock.now();
  const next = issueRefreshToken(token.objectId, token.family);
  const [hashes, nextHashes] = await Promise.all([refreshTokenHashes(token), refreshTokenHashes(next)]);
  const result = await viewerState.refreshSession({
    ...hashes,
    nextTokenHash: nextHashes.tokenHash,
    forgetAfterMs: forgetAfter(services, now),
  });
  switch (result.outcome) {
    case "unknown":
      throw invalid();
    case "expired":
      throw new ApiError("unauthorized", "This session has expired. Sign in again.");
    case "reused": {
      await afterRevocation(services, { userId: result.userId, sessionIds: [result.sessionId] }, "refresh-reuse", now);
      throw new ApiError("unauthorized", "This refresh token was already used, so the session has been ended for safety. Sign in again.");
    }
    case "rotated": {
      const { account, sessionId, expiresAt, profile } = result;
      // The session keeps its profile; the ceiling is the profile's now (an edit reaches the next refresh).
      const accessToken = await signAccessToken(
        config,
        { userId: account.id, sessionId, role: account.role, profileId: profile.id, maturityCeiling: profile.maturityCeiling },
        now,
      );
      return {
        user: account,
        accessToken,
        refreshToken: next.value,
        expiresIn: config.ACCESS_TOKEN_TTL_SECONDS,
        sessionExpiresAt: expiresAt,
      };
    }
  }
}
