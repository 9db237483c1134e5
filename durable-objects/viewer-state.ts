import { DurableObject } from "cloudflare:workers";

/**
 * One object per user (`idFromName(userId)`): the strongly consistent, global view of that
 * user's live state. Today it holds revoked sessions, so that sign-out stops the session's
 * access tokens on the next request from any edge location (a KV deny-list would take up to
 * a minute to reach other locations).
 */
export class ViewerState extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, forget_after INTEGER NOT NULL)");
    });
  }

  /**
   * Marks a session revoked. `forgetAfterMs` is when its last access token expires; after that
   * the signature check alone refuses them, so the row is purged by the alarm.
   */
  async revokeSession(sessionId: string, forgetAfterMs: number): Promise<void> {
    this.ctx.storage.sql.exec(
      "INSERT INTO revoked_sessions (session_id, forget_after) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET forget_after = max(forget_after, excluded.forget_after)",
      sessionId,
      forgetAfterMs,
    );
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > forgetAfterMs) await this.ctx.storage.setAlarm(forgetAfterMs);
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.ctx.storage.sql.exec("SELECT 1 FROM revoked_sessions WHERE session_id = ?", sessionId).toArray().length > 0;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM revoked_sessions WHERE forget_after <= ?", now);
    const next = this.ctx.storage.sql.exec<{ next: number | null }>("SELECT min(forget_after) AS next FROM revoked_sessions").one().next;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }
}
