import type { MaturityRank } from "../../schema/maturity/ratings.ts";
import type { AccountCopy } from "./account.ts";

/**
 * How long the token a refresh just spent still works (docs/users.md "Refresh grace"): a client
 * whose answer was lost (a network error, a tab closed mid-request) or that sent one token several
 * times at once presents it again and gets a new token of the same session, instead of being taken
 * for a thief. After this, presenting it is a reuse and ends the session, as before.
 */
export const REFRESH_GRACE_MS = 30_000;
/** At most this many extra tokens from one spent token within the grace; one more is a reuse. */
export const REFRESH_GRACE_MAX_TOKENS = 10;

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
 * - `rotated`: it was one of the session's live tokens; `nextTokenHash` is now the live one. Or
 *   it was the token the last rotation spent, presented again within `REFRESH_GRACE_MS`
 *   (`grace: true`): `nextTokenHash` is live beside the rotation's successor, until one of them is spent;
 * - `unknown`: no session of this object has the family (a forgery, or a session that ended);
 * - `expired`: the session reached its absolute end;
 * - `reused`: the family's token was already spent (or the secret is wrong): stolen or replayed,
 *   so the session is revoked in the same call, and both holders must sign in again.
 */
export type Rotation =
  | { outcome: "rotated"; sessionId: string; grace: boolean; expiresAt: number; profileId: string | null }
  | { outcome: "unknown" }
  | { outcome: "expired" }
  | { outcome: "reused"; sessionId: string };

/** What presenting a refresh token did (`ViewerState.refreshSession`): a `Rotation`, with the account the new access token claims. */
export type RefreshResult =
  | {
      outcome: "rotated";
      sessionId: string;
      expiresAt: number;
      account: AccountCopy;
      profile: { id: string; maturityCeiling: MaturityRank };
    }
  | { outcome: "unknown" | "expired" }
  | { outcome: "reused"; sessionId: string; userId: string };

/**
 * The user's sessions as the object knows them:
 * - open sessions and their refresh-token family: the hash of the family's secret and of the
 *   live token. A refresh spends the live token for the next; the token it spent works again for
 *   `REFRESH_GRACE_MS` (each time a new token, live beside the successor: `grace_token_hashes`),
 *   and any other token of the family is a reuse. One row per session whatever the number of
 *   refreshes, where a table of every spent token would grow by one row every few minutes of use.
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
      token_hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, refreshed_at INTEGER, user_agent TEXT,
      previous_token_hash TEXT, grace_token_hashes TEXT, profile_id TEXT)`);
    // Objects made before the refresh grace have the table without its two columns, and before
    // profiles without `profile_id` (NULL: the default profile).
    const columns = new Set(
      this.sql
        .exec<{ name: string }>("PRAGMA table_info(sessions)")
        .toArray()
        .map((column) => column.name),
    );
    for (const column of ["previous_token_hash", "grace_token_hashes", "profile_id"]) {
      if (!columns.has(column)) this.sql.exec(`ALTER TABLE sessions ADD COLUMN ${column} TEXT`);
    }
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

  /**
   * Spends a live token of the family for `nextTokenHash`, or, within `REFRESH_GRACE_MS` of that,
   * gives the token just spent another successor (see `Rotation`); a reuse is for the caller to revoke.
   */
  rotate(input: { familyHash: string; tokenHash: string; nextTokenHash: string }, now: number): Rotation {
    const session = this.sql
      .exec<{
        id: string;
        token_hash: string;
        expires_at: number;
        refreshed_at: number | null;
        previous_token_hash: string | null;
        grace_token_hashes: string | null;
        profile_id: string | null;
      }>(
        "SELECT id, token_hash, expires_at, refreshed_at, previous_token_hash, grace_token_hashes, profile_id FROM sessions WHERE family_hash = ?",
        input.familyHash,
      )
      .toArray()[0];
    if (!session) return { outcome: "unknown" };
    if (session.expires_at <= now) {
      this.sql.exec("DELETE FROM sessions WHERE id = ?", session.id);
      return { outcome: "expired" };
    }
    const graceTokens = session.grace_token_hashes ? (JSON.parse(session.grace_token_hashes) as string[]) : [];
    if (session.token_hash === input.tokenHash || graceTokens.includes(input.tokenHash)) {
      this.sql.exec(
        "UPDATE sessions SET token_hash = ?, previous_token_hash = ?, grace_token_hashes = NULL, refreshed_at = ? WHERE id = ?",
        input.nextTokenHash,
        input.tokenHash,
        now,
        session.id,
      );
      return { outcome: "rotated", sessionId: session.id, grace: false, expiresAt: session.expires_at, profileId: session.profile_id };
    }
    const inGrace =
      session.previous_token_hash === input.tokenHash &&
      session.refreshed_at !== null &&
      now < session.refreshed_at + REFRESH_GRACE_MS &&
      graceTokens.length < REFRESH_GRACE_MAX_TOKENS;
    if (!inGrace) return { outcome: "reused", sessionId: session.id };
    this.sql.exec(
      "UPDATE sessions SET grace_token_hashes = ? WHERE id = ?",
      JSON.stringify([...graceTokens, input.nextTokenHash]),
      session.id,
    );
    return { outcome: "rotated", sessionId: session.id, grace: true, expiresAt: session.expires_at, profileId: session.profile_id };
  }

  /** The profile a session acts for (`ViewerState.selectProfile`); null for the default profile. */
  profileOf(sessionId: string): string | null {
    return (
      this.sql.exec<{ profile_id: string | null }>("SELECT profile_id FROM sessions WHERE id = ?", sessionId).toArray()[0]?.profile_id ??
      null
    );
  }

  /** Binds an open session to a profile: its refreshes sign that profile. Answers whether the session is open. */
  bindProfile(sessionId: string, profileId: string): boolean {
    const cursor = this.sql.exec("UPDATE sessions SET profile_id = ? WHERE id = ?", profileId, sessionId);
    cursor.toArray();
    return cursor.rowsWritten > 0;
  }

  /** The open sessions bound to a profile. */
  boundTo(profileId: string): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM sessions WHERE profile_id = ?", profileId)
      .toArray()
      .map((row) => row.id);
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
