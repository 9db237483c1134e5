/**
 * The user's sessions as the object knows them: revoked sessions, kept until every credential
 * derived from the session (access tokens, signed media URLs) has expired, so playback, account
 * and admin routes and the media space refuse a signed-out session on its next request from any
 * location.
 */
export class Sessions {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, forget_after INTEGER NOT NULL)");
  }

  /** Marks a session revoked until `forgetAfterMs` (see `ViewerState.revokeSession`). */
  revoke(sessionId: string, forgetAfterMs: number): void {
    this.sql.exec(
      "INSERT INTO revoked_sessions (session_id, forget_after) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET forget_after = max(forget_after, excluded.forget_after)",
      sessionId,
      forgetAfterMs,
    );
  }

  isRevoked(sessionId: string): boolean {
    return this.sql.exec("SELECT 1 FROM revoked_sessions WHERE session_id = ?", sessionId).toArray().length > 0;
  }

  /** Forgets what no credential needs any more. */
  purge(now: number): void {
    this.sql.exec("DELETE FROM revoked_sessions WHERE forget_after <= ?", now);
  }

  /** When `purge` next has something to do, or null. */
  nextPurgeAt(): number | null {
    return this.sql.exec<{ next: number | null }>("SELECT min(forget_after) AS next FROM revoked_sessions").one().next;
  }
}
