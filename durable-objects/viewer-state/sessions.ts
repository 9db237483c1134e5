import type { AccountCopy } from "./account.ts";

/** A session as sign-in or sign-up opens it. Hashes are SHA-256, hex: the object never holds a token. */
export interface NewSession {
  /** The access tokens' `sid`. */
  id: string;
  /** Hash of the refresh-token family's secret: every refresh token of the session carries it. */
  familyHash: string;
  /** Hash of the session's one live refresh token. */
  tokenHash: string;
  /** Absolute end of the session (ms since the epoch): rotation never extends it. */
  expiresAt: number;
  userAgent: string | null;
}

/**
 * What presenting a refresh token did:
 * - `rotated`: it was the session's live token; `nextTokenHash` is now the live one;
 * - `unknown`: no session of this object has the family (a forgery, or a session that ended);
 * - `expired`: the session reached its absolute end;
 * - `reused`: the family's token was already spent (or the secret is wrong): stolen or replayed,
 *   so the session is revoked in the same call, and both holders must sign in again.
 */
export type Rotation =
  | { outcome: "rotated"; sessionId: string }
  | { outcome: "unknown" }
  | { outcome: "expired" }
  | { outcome: "reused"; sessionId: string };

/** What presenting a refresh token did (`ViewerState.refreshSession`): a `Rotation`, with the account the new access token claims. */
export type RefreshResult =
  | { outcome: "rotated"; sessionId: string; account: AccountCopy }
  | { outcome: "unknown" | "expired" }
  | { outcome: "reused"; sessionId: string; userId: string };

/**
 * The user's sessions as the object knows them:
 * - open sessions and their refresh-token family: the hash of the family's secret and of the one
 *   live token. A refresh spends the live token for the next; any other token of the family
 *   is a reuse. One row per session whatever the number of refreshes, where a table of every spent
 *   token would grow by one row every few minutes of use.
 * - revoked sessions, kept until every credential derived from the session (access tokens, signed
 *   media URLs) has expired, so playback, account and admin routes and the media space refuse a
 *   signed-out session on its next request from any location.
 * Every method is synchronous: one call to the object is one transaction, so of two concurrent
 * refreshes with one token exactly one rotates.
 */
export class Sessions {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, forget_after INTEGER NOT NULL)");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, family_hash TEXT NOT NULL UNIQUE,
      token_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, refreshed_at INTEGER, user_agent TEXT)`);
  }

  open(session: NewSession, now: number): void {
    this.sql.exec(
      "INSERT INTO sessions (id, family_hash, token_hash, created_at, expires_at, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
      session.id,
      session.familyHash,
      session.tokenHash,
      now,
      session.expiresAt,
      session.userAgent,
    );
  }

  /** Spends the family's live token for `nextTokenHash` (see `Rotation`); a reuse is for the caller to revoke. */
  rotate(input: { familyHash: string; tokenHash: string; nextTokenHash: string }, now: number): Rotation {
    const session = this.sql
      .exec<{ id: string; token_hash: string; expires_at: number }>(
        "SELECT id, token_hash, expires_at FROM sessions WHERE family_hash = ?",
        input.familyHash,
      )
      .toArray()[0];
    if (!session) return { outcome: "unknown" };
    if (session.expires_at <= now) {
      this.sql.exec("DELETE FROM sessions WHERE id = ?", session.id);
      return { outcome: "expired" };
    }
    if (session.token_hash !== input.tokenHash) return { outcome: "reused", sessionId: session.id };
    this.sql.exec("UPDATE sessions SET token_hash = ?, refreshed_at = ? WHERE id = ?", input.nextTokenHash, now, session.id);
    return { outcome: "rotated", sessionId: session.id };
  }

  /** Ends a session: its refresh tokens at once, its other credentials until `forgetAfterMs` (see `ViewerState.revokeSession`). */
  revoke(sessionId: string, forgetAfterMs: number): void {
    this.sql.exec("DELETE FROM sessions WHERE id = ?", sessionId);
    this.sql.exec(
      "INSERT INTO revoked_sessions (session_id, forget_after) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET forget_after = max(forget_after, excluded.forget_after)",
      sessionId,
      forgetAfterMs,
    );
  }

  isRevoked(sessionId: string): boolean {
    return this.sql.exec("SELECT 1 FROM revoked_sessions WHERE session_id = ?", sessionId).toArray().length > 0;
  }

  /** The sessions that are open (not revoked, not past their end). */
  openIds(now: number): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM sessions WHERE expires_at > ? ORDER BY created_at", now)
      .toArray()
      .map((row) => row.id);
  }

  /** Forgets what no credential needs any more: revocations past their retention, sessions past their end. */
  purge(now: number): void {
    this.sql.exec("DELETE FROM revoked_sessions WHERE forget_after <= ?", now);
    this.sql.exec("DELETE FROM sessions WHERE expires_at <= ?", now);
  }

  /** When `purge` next has something to do, or null. */
  nextPurgeAt(): number | null {
    return this.sql
      .exec<{ next: number | null }>(
        "SELECT min(at) AS next FROM (SELECT min(forget_after) AS at FROM revoked_sessions UNION ALL SELECT min(expires_at) FROM sessions)",
      )
      .one().next;
  }
}
