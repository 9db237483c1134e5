import { DurableObject } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import type { Database } from "../workers/platform/db.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { withServices } from "../workers/platform/services.ts";
import { Leases, type StreamLease, type StreamStatus } from "./viewer-state/leases.ts";
import { Sessions } from "./viewer-state/sessions.ts";

export type { StreamLease, StreamStatus };

/** After a failed flush: wait this long, doubling up to the maximum. Rows stay dirty meanwhile. */
const FLUSH_RETRY_MIN_MS = 5_000;
const FLUSH_RETRY_MAX_MS = 300_000;

const LOG_SCOPE = { durableObject: "ViewerState" };

/** One position as this object holds it, ready for Postgres. */
interface ProgressRow {
  videoId: string;
  positionSeconds: number;
  durationSeconds: number | null;
  finished: boolean;
  /** Milliseconds since the epoch, when the player reported it. */
  updatedAt: number;
}

export interface StoredProgress {
  positionSeconds: number;
  durationSeconds: number | null;
  finished: boolean;
  /** Milliseconds since the epoch. */
  updatedAt: number;
}

export type StartStreamResult =
  | {
      granted: true;
      progress: StoredProgress | null;
      /** This play's stream: new on every play, carried by its media token (see `streamStatus`). */
      leaseId: string;
    }
  | { granted: false; inUse: number; retryAfterMs: number }
  /** The session was signed out: nothing was taken. */
  | { granted: false; revoked: true };

/** What one heartbeat did: nothing, for a signed-out session. */
export type HeartbeatResult =
  | { revoked: true }
  | {
      revoked: false;
      progress: StoredProgress;
      /** The continue-watching row as it stands after this heartbeat: unfinished titles, most recent first. */
      continueWatching: string[];
    };

export interface FlushStats {
  flushes: number;
  rowsFlushed: number;
  failures: number;
  dirtyRows: number;
  /** Heartbeats since this instance started, and the SQLite rows they wrote (`rowsWritten`): not persisted. */
  heartbeats: number;
  heartbeatRowsWritten: number;
}

/**
 * One object per user (`idFromName(userId)`): the strongly consistent, global view of that
 * user's live state.
 * - Revoked sessions, kept until every credential derived from the session (access tokens, signed
 *   media URLs) has expired: playback, account and admin routes and the media space ask here, so
 *   sign-out stops them on the next request from any location.
 * - Watch progress ("watched till" per video): acknowledged once in SQLite storage, written behind
 *   to Postgres in batches by the alarm, so a burst of heartbeats makes one database write.
 * - Screen leases: one per signed-in session, renewed by heartbeats, capped by the plan's screens.
 */
export class ViewerState extends DurableObject<Env> {
  private readonly log = createLogger(LOG_SCOPE);
  private readonly sessions: Sessions;
  private readonly leases: Leases;
  /** `meta.user_id`, read once per instance. */
  private owner: string | null | undefined;
  private heartbeats = 0;
  private heartbeatRowsWritten = 0;
  /** SQLite rows written through `write` since this instance started. */
  private written = 0;

  /** `clock`: the entry point's (the test Worker's objects run on its test clock). */
  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly clock: Clock = systemClock,
  ) {
    super(ctx, env);
    this.sessions = new Sessions(ctx.storage.sql);
    this.leases = new Leases(ctx.storage.sql, clock);
    ctx.blockConcurrencyWhile(async () => {
      const storage = this.ctx.storage.sql;
      this.sessions.createTables();
      this.leases.createTables();
      storage.exec(`CREATE TABLE IF NOT EXISTS progress (
        video_id TEXT PRIMARY KEY, position REAL NOT NULL, duration REAL, finished INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL)`);
      // Who this object belongs to (the flush needs the user id) and the flush's bookkeeping.
      storage.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    });
  }

  /**
   * Marks a session revoked and releases its screen. `forgetAfterMs` is when the last credential
   * derived from the session expires (access tokens and signed media URLs, whose only check after
   * sign-out is this row); after that the signature checks alone refuse them, so the alarm purges it.
   */
  async revokeSession(sessionId: string, forgetAfterMs: number): Promise<void> {
    this.sessions.revoke(sessionId, forgetAfterMs);
    this.leases.release(sessionId);
    await this.scheduleAlarm(forgetAfterMs);
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.sessions.isRevoked(sessionId);
  }

  /**
   * Takes the session's screen for `videoId`, or moves it there: a session holds at most one
   * lease, so switching titles on a device never uses a second screen. Refused when `screens`
   * other sessions hold live leases. Answers the title's progress too (for `resumeAt`). A signed-out
   * session is refused in the same call.
   */
  async startStream(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    screens: number;
    leaseMs: number;
  }): Promise<StartStreamResult> {
    if (this.sessions.isRevoked(input.sessionId)) return { granted: false, revoked: true };
    this.rememberOwner(input.userId);
    const lease = this.leases.take(input);
    if (!("leaseId" in lease)) return { granted: false, ...lease };
    return { granted: true, progress: this.readProgress(input.videoId), leaseId: lease.leaseId };
  }

  /**
   * Whether the stream `leaseId` of a session may still be served (the media edge asks, for
   * playlists on every request and for segments at most every 20 s per isolate): one read of
   * this object's storage, nothing written.
   */
  async streamStatus(sessionId: string, leaseId: string): Promise<StreamStatus> {
    if (this.sessions.isRevoked(sessionId)) return { status: "revoked" };
    return this.leases.status(sessionId, leaseId);
  }

  /**
   * A progress heartbeat, in one call: checks the session, stores the position (durable once this
   * returns), renews the session's lease, and answers the continue-watching row. The position
   * reaches Postgres with the next flush. Rows written: the position, plus the lease when it has
   * run down by a quarter (so about every third heartbeat at one every 5 s), plus the flush
   * bookkeeping only when `flushDelayMs` changes.
   */
  async recordProgress(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    positionSeconds: number;
    durationSeconds: number | null;
    /** Whether this position counts as watched to the end (the playback service's rule). */
    finished: boolean;
    leaseMs: number;
    /** How long heartbeats gather before one batch goes to Postgres (`PROGRESS_FLUSH_SECONDS`). */
    flushDelayMs: number;
    /** How many titles the continue-watching row holds (the playback service's rule). */
    continueWatchingSize: number;
  }): Promise<HeartbeatResult> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    const before = this.written;
    this.rememberOwner(input.userId);
    const now = this.clock.now();
    const { finished } = input;
    this.write(
      `INSERT INTO progress (video_id, position, duration, finished, updated_at, dirty) VALUES (?, ?, ?, ?, ?, 1)
       ON CONFLICT (video_id) DO UPDATE SET position = excluded.position, duration = excluded.duration,
         finished = excluded.finished, updated_at = excluded.updated_at, dirty = 1`,
      input.videoId,
      input.positionSeconds,
      input.durationSeconds,
      finished ? 1 : 0,
      now,
    );
    // A live lease is renewed once it has run down by a quarter: it lapses between 3/4 and all of
    // `leaseMs` after the last heartbeat, for a third of the writes.
    this.write(
      "UPDATE leases SET expires_at = ? WHERE session_id = ? AND expires_at > ? AND expires_at < ?",
      now + input.leaseMs,
      input.sessionId,
      now,
      now + input.leaseMs - input.leaseMs / 4,
    );
    if (this.meta("flush_delay_ms") !== String(input.flushDelayMs)) this.setMeta("flush_delay_ms", String(input.flushDelayMs));
    await this.scheduleAlarm(now + input.flushDelayMs);
    this.heartbeats++;
    this.heartbeatRowsWritten += this.written - before;
    return {
      revoked: false,
      progress: { positionSeconds: input.positionSeconds, durationSeconds: input.durationSeconds, finished, updatedAt: now },
      continueWatching: this.ctx.storage.sql
        .exec<{ video_id: string }>(
          "SELECT video_id FROM progress WHERE finished = 0 ORDER BY updated_at DESC, video_id LIMIT ?",
          input.continueWatchingSize,
        )
        .toArray()
        .map((row) => row.video_id),
    };
  }

  /** Where the session's viewer stopped in `videoId`; `revoked` for a signed-out session. */
  async getProgress(sessionId: string, videoId: string): Promise<{ revoked: true } | { revoked: false; progress: StoredProgress | null }> {
    if (this.sessions.isRevoked(sessionId)) return { revoked: true };
    return { revoked: false, progress: this.readProgress(videoId) };
  }

  /** Ends the session's stream (the player stopped, or the session signed out). */
  async releaseLease(sessionId: string): Promise<void> {
    this.leases.release(sessionId);
  }

  /** Live leases, oldest expiry first. */
  async listLeases(): Promise<StreamLease[]> {
    return this.leases.list();
  }

  async flushStats(): Promise<FlushStats> {
    const dirtyRows = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM progress WHERE dirty = 1").one().n;
    return {
      flushes: Number(this.meta("flushes") ?? 0),
      rowsFlushed: Number(this.meta("rows_flushed") ?? 0),
      failures: Number(this.meta("failures") ?? 0),
      dirtyRows,
      heartbeats: this.heartbeats,
      heartbeatRowsWritten: this.heartbeatRowsWritten,
    };
  }

  /** Purges forgotten revocations and writes dirty progress to Postgres; a failed write is retried with backoff. */
  override async alarm(): Promise<void> {
    const now = this.clock.now();
    this.sessions.purge(now);
    this.leases.purge(now);
    let retryAt: number | null = null;
    try {
      await this.flushProgress();
      this.setMeta("retry_ms", null);
    } catch (error) {
      const delay = Math.min(FLUSH_RETRY_MAX_MS, Number(this.meta("retry_ms") ?? FLUSH_RETRY_MIN_MS / 2) * 2);
      this.setMeta("retry_ms", String(delay));
      this.setMeta("failures", String(Number(this.meta("failures") ?? 0) + 1));
      retryAt = this.clock.now() + delay;
      this.log.warn("watch progress flush failed; will retry", { retryInMs: delay, error });
    }
    const nextPurge = this.sessions.nextPurgeAt();
    const dirty = this.ctx.storage.sql.exec("SELECT 1 FROM progress WHERE dirty = 1 LIMIT 1").toArray().length > 0;
    const nextFlush = dirty ? (retryAt ?? this.clock.now() + Number(this.meta("flush_delay_ms") ?? 60_000)) : null;
    const next = [nextPurge, nextFlush].filter((at): at is number => at !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  private async flushProgress(): Promise<void> {
    const rows = this.ctx.storage.sql
      .exec<{ video_id: string; position: number; duration: number | null; finished: number; updated_at: number }>(
        "SELECT video_id, position, duration, finished, updated_at FROM progress WHERE dirty = 1",
      )
      .toArray();
    const userId = this.meta("user_id");
    if (rows.length === 0 || !userId) return;
    const batch: ProgressRow[] = rows.map((row) => ({
      videoId: row.video_id,
      positionSeconds: row.position,
      durationSeconds: row.duration,
      finished: row.finished === 1,
      updatedAt: row.updated_at,
    }));
    // An alarm, not a viewer, waits for this write: a cold connection gets time rather than a retry.
    await withServices(this.env, this.ctx, { clock: this.clock, logFields: LOG_SCOPE, databaseTimeoutMs: 10_000 }, (services) =>
      writeProgressBatch(services.db, userId, batch),
    );
    // Heartbeats that arrived during the write changed updated_at: those rows stay dirty for the next flush.
    for (const row of batch) {
      this.ctx.storage.sql.exec("UPDATE progress SET dirty = 0 WHERE video_id = ? AND updated_at = ?", row.videoId, row.updatedAt);
    }
    this.setMeta("flushes", String(Number(this.meta("flushes") ?? 0) + 1));
    this.setMeta("rows_flushed", String(Number(this.meta("rows_flushed") ?? 0) + batch.length));
  }

  private readProgress(videoId: string): StoredProgress | null {
    const row = this.ctx.storage.sql
      .exec<{ position: number; duration: number | null; finished: number; updated_at: number }>(
        "SELECT position, duration, finished, updated_at FROM progress WHERE video_id = ?",
        videoId,
      )
      .toArray()[0];
    return row
      ? { positionSeconds: row.position, durationSeconds: row.duration, finished: row.finished === 1, updatedAt: row.updated_at }
      : null;
  }

  /** Runs a statement that returns no rows, counting the rows it wrote (`bench:playback` reports them per heartbeat). */
  private write(query: string, ...bindings: SqlStorageValue[]): void {
    const cursor = this.ctx.storage.sql.exec(query, ...bindings);
    cursor.toArray();
    this.written += cursor.rowsWritten;
  }

  private rememberOwner(userId: string): void {
    this.owner ??= this.meta("user_id");
    if (this.owner !== userId) {
      this.setMeta("user_id", userId);
      this.owner = userId;
    }
  }

  private meta(key: string): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  private setMeta(key: string, value: string | null): void {
    if (value === null) this.write("DELETE FROM meta WHERE key = ?", key);
    else this.write("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** Sets the alarm to `at` unless one is due sooner. */
  private async scheduleAlarm(at: number): Promise<void> {
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > at) await this.ctx.storage.setAlarm(at);
  }
}

/**
 * Writes a batch of positions in one statement (the write-behind flush of `ViewerState`).
 * Rows for videos (or a user) deleted since are skipped rather than failing the batch, and an
 * older report never overwrites a newer one, so a retried flush is harmless.
 */
async function writeProgressBatch(db: Database, userId: string, rows: ProgressRow[]): Promise<void> {
  if (rows.length === 0) return;
  const payload = JSON.stringify(
    rows.map((row) => ({
      video_id: row.videoId,
      position_seconds: row.positionSeconds,
      duration_seconds: row.durationSeconds,
      finished: row.finished,
      updated_at: new Date(row.updatedAt).toISOString(),
    })),
  );
  await db.execute(sql`
      insert into watch_progress (user_id, video_id, position_seconds, duration_seconds, finished, updated_at)
      select u.id, r.video_id, r.position_seconds, r.duration_seconds, r.finished, r.updated_at
      from jsonb_to_recordset(${payload}::jsonb)
        as r(video_id text, position_seconds double precision, duration_seconds double precision, finished boolean, updated_at timestamptz)
      join videos v on v.id = r.video_id
      join users u on u.id = ${userId}
      on conflict (user_id, video_id) do update set
        position_seconds = excluded.position_seconds,
        duration_seconds = excluded.duration_seconds,
        finished = excluded.finished,
        updated_at = excluded.updated_at
      where watch_progress.updated_at < excluded.updated_at`);
}
