import { and, eq, isNull } from "drizzle-orm";
import { refreshTokens, sessions, type User, users } from "../../schema/index.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import { hashPassword, needsRehash, verifyDecoy, verifyPassword } from "../platform/passwords.ts";
import type { Services } from "../platform/services.ts";
import { type RevocationReason, revocationLifetimeSeconds, revokedSessionEntry } from "../platform/session-revocation.ts";
import { hasSqlState, SqlState } from "../platform/sql-errors.ts";
import { signAccessToken } from "../platform/tokens.ts";
import type { PublicUser } from "./schema.ts";

export interface IssuedTokens {
  user: PublicUser;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const REFRESH_TOKEN_PREFIX = "rsr_";

export function toPublicUser(user: Pick<User, "id" | "email" | "name" | "role">): PublicUser {
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}

async function insertRefreshToken(db: Pick<Database, "insert">, sessionId: string): Promise<string> {
  const refreshToken = randomToken(REFRESH_TOKEN_PREFIX);
  await db.insert(refreshTokens).values({ tokenHash: await sha256Hex(refreshToken), sessionId });
  return refreshToken;
}

/** Opens a session (a device) and issues its first token pair. */
async function openSession(services: Services, user: User, userAgent: string | undefined): Promise<IssuedTokens> {
  const { config, db } = services;
  const sessionId = crypto.randomUUID();
  const now = services.clock.now();
  const refreshToken = await db.transaction(async (tx) => {
    await tx.insert(sessions).values({
      id: sessionId,
      userId: user.id,
      expiresAt: new Date(now + config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      userAgent: userAgent?.slice(0, 256),
    });
    return insertRefreshToken(tx, sessionId);
  });
  const accessToken = await signAccessToken(config, { userId: user.id, sessionId, role: user.role }, now);
  return { user: toPublicUser(user), accessToken, refreshToken, expiresIn: config.ACCESS_TOKEN_TTL_SECONDS };
}

export async function signUp(
  services: Services,
  input: { email: string; password: string; name: string },
  userAgent?: string,
): Promise<IssuedTokens> {
  const passwordHash = await hashPassword(input.password);
  try {
    const [user] = await services.db
      .insert(users)
      .values({ id: crypto.randomUUID(), email: input.email, name: input.name, passwordHash })
      .returning();
    if (!user) throw new Error("insert returned no row");
    return await openSession(services, user, userAgent);
  } catch (error) {
    if (hasSqlState(error, SqlState.uniqueViolation)) {
      throw new ApiError("conflict", "An account with this email already exists. Sign in instead, or use another email.");
    }
    throw error;
  }
}

/** Unknown email and wrong password take the same path and the same time, and answer the same. */
export async function signIn(services: Services, input: { email: string; password: string }, userAgent?: string): Promise<IssuedTokens> {
  const [user] = await services.db.select().from(users).where(eq(users.email, input.email));
  const valid = user ? await verifyPassword(user.passwordHash, input.password) : await verifyDecoy(input.password);
  if (!user || !valid) {
    throw new ApiError("invalid-credentials", "The email or the password is wrong.");
  }
  if (needsRehash(user.passwordHash)) {
    await services.db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password), updatedAt: new Date(services.clock.now()) })
      .where(eq(users.id, user.id));
  }
  return openSession(services, user, userAgent);
}

/**
 * Ends a session. Its refresh tokens die at once (Postgres). The user's `ViewerState` remembers the
 * revocation until the last credential derived from the session has expired by itself (access
 * tokens and signed media URLs: `revocationLifetimeSeconds`): playback, account and admin routes
 * and the media space refuse the session at once. Browse routes read the KV deny-list written
 * here, which reaches other locations within KV's propagation bound (docs/users.md).
 */
export async function revokeSession(
  services: Services,
  target: { userId: string; sessionId: string },
  reason: RevocationReason,
): Promise<void> {
  const { config, db } = services;
  const now = services.clock.now();
  const denyListed = services.cache.put(revokedSessionEntry(config, target.sessionId), { reason, at: now });
  await services.viewerState(target.userId).revokeSession(target.sessionId, now + revocationLifetimeSeconds(config) * 1000);
  await db
    .update(sessions)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(eq(sessions.id, target.sessionId), isNull(sessions.revokedAt)));
  if (!(await denyListed)) {
    // Browse routes fall back to the access token's expiry (ACCESS_TOKEN_TTL_SECONDS) for this session.
    services.log.error("sign-out not written to the KV deny-list; browse routes accept the session until its tokens expire", {
      sessionId: target.sessionId,
    });
  }
}

/**
 * Exchanges a refresh token for a new pair. Each token works once: a second use means it was
 * stolen or replayed, so the whole session is revoked and both holders must sign in again.
 */
export async function refreshSession(services: Services, refreshToken: string): Promise<IssuedTokens> {
  const invalid = () => new ApiError("unauthorized", "The refresh token is not valid. Sign in again.");
  if (!refreshToken.startsWith(REFRESH_TOKEN_PREFIX)) throw invalid();
  const { config, db } = services;
  const now = services.clock.now();
  const tokenHash = await sha256Hex(refreshToken);
  const [found] = await db
    .select({ spentAt: refreshTokens.spentAt, session: sessions, user: users })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash));
  if (!found) throw invalid();
  const { session, user } = found;
  if (session.revokedAt) throw new ApiError("unauthorized", "This session has ended. Sign in again.");
  if (session.expiresAt.getTime() <= now) throw new ApiError("unauthorized", "This session has expired. Sign in again.");

  const rotated = found.spentAt
    ? undefined
    : await db.transaction(async (tx) => {
        // The conditional update is the lock: of two concurrent uses, exactly one spends the token.
        const spent = await tx
          .update(refreshTokens)
          .set({ spentAt: new Date(now) })
          .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.spentAt)))
          .returning({ tokenHash: refreshTokens.tokenHash });
        return spent.length === 1 ? insertRefreshToken(tx, session.id) : undefined;
      });
  if (!rotated) {
    await revokeSession(services, { userId: user.id, sessionId: session.id }, "refresh-reuse");
    throw new ApiError("unauthorized", "This refresh token was already used, so the session has been ended for safety. Sign in again.");
  }
  const accessToken = await signAccessToken(config, { userId: user.id, sessionId: session.id, role: user.role }, now);
  return { user: toPublicUser(user), accessToken, refreshToken: rotated, expiresIn: config.ACCESS_TOKEN_TTL_SECONDS };
}

export async function getUser(db: Database, auth: AuthContext): Promise<PublicUser> {
  const [user] = await db.select().from(users).where(eq(users.id, auth.userId));
  if (!user) throw new ApiError("unauthorized", "This account no longer exists.");
  return toPublicUser(user);
}
