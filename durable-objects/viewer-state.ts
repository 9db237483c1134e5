import { DurableObject } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import type { Database } from "../workers/platform/db.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { withServices } from "../workers/platform/services.ts";

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

export interface StreamLease {
  sessionId: string;
  videoId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type StartStreamResult =
  | {
      granted: true;
      progress: StoredProgress | null;
      /** This play's stream: new on every play, carried by its media token (see `streamStatus`). */
      leaseId: string;
      /** Bits per second this session's player measured when its previous stream was released, or null. */
      bandwidthEstimate: number | null;
      /** Streams of other sessions ended to make room (`takeOver`): 0 or 1 in practice. */
      tookOver: number;
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
      /** The session's stream was ended by another device's "watch here instead" (the position is stored all the same). */
      takenOver: boolean;
    };

/**
 * What the media edge needs to know about one stream (`streamStatus`):
 * - `live`: the session's lease is this stream's and has not lapsed (until `expiresAt`);
 * - `replaced`: the session played something since (another title, or this one again);
 * - `ended`: the lease lapsed without heartbeats, or was released (the player stopped, the plan
 *   changed, the session signed out);
 * - `taken-over`: another session of the account took this stream's screen ("watch here instead");
 * - `revoked`: the session signed out.
 */
export type StreamStatus = { status: "live"; expiresAt: number } | { status: "replaced" | "ended" | "taken-over" | "revoked" };

/** How long the reason a stream was taken over is kept for its player to read (a day: no player waits longer). */
const TAKEN_OVER_MEMORY_MS = 86_400_000;

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
    ctx.blockConcurrencyWhile(async () => {
      const storage = this.ctx.storage.sql;
      storage.exec("CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, forget_after INTEGER NOT NULL)");
      storage.exec(`CREATE TABLE IF NOT EXISTS progress (
        video_id TEXT PRIMARY KEY, position REAL NOT NULL, duration REAL, finished INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL)`);
      // `lease_id`: which play holds the session's screen (see streamStatus).
      storage.exec(
        "CREATE TABLE IF NOT EXISTS leases (session_id TEXT PRIMARY KEY, video_id TEXT NOT NULL, expires_at INTEGER NOT NULL, lease_id TEXT NOT NULL)",
      );
      // Streams ended by another session's takeover, so their next request learns why (one row per session).
      storage.exec(
        "CREATE TABLE IF NOT EXISTS taken_over (session_id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, ended_at INTEGER NOT NULL)",
      );
      // The bandwidth a session's player measured by the end of its last stream: the next play's starting rung.
      storage.exec(
        "CREATE TABLE IF NOT EXISTS stream_hints (session_id TEXT PRIMARY KEY, bandwidth INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
      );
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
    this.ctx.storage.sql.exec(
      "INSERT INTO revoked_sessions (session_id, forget_after) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET forget_after = max(forget_after, excluded.forget_after)",
      sessionId,
      forgetAfterMs,
    );
    for (const table of ["leases", "taken_over", "stream_hints"])
      this.ctx.storage.sql.exec(`DELETE FROM ${table} WHERE session_id = ?`, sessionId);
    await this.scheduleAlarm(forgetAfterMs);
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.revoked(sessionId);
  }

  /**
   * Takes the session's screen for `videoId`, or moves it there: a session holds at most one
   * lease, so switching titles on a device never uses a second screen. Refused when `screens`
   * other sessions hold live leases, unless `takeOver`: then the streams of other sessions that went
   * longest without a heartbeat are ended to make room, and their players are told why (`taken-over`).
   * Answers the title's progress too (for `resumeAt`) and the session's bandwidth hint. A signed-out
   * session is refused in the same call.
   */
  async startStream(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    screens: number;
    leaseMs: number;
    takeOver?: boolean;
  }): Promise<StartStreamResult> {
    if (this.revoked(input.sessionId)) return { granted: false, revoked: true };
    this.rememberOwner(input.userId);
    const now = this.clock.now();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    sql.exec("DELETE FROM taken_over WHERE session_id = ? OR ended_at <= ?", input.sessionId, now - TAKEN_OVER_MEMORY_MS);
    const others = sql
      .exec<{ session_id: string; lease_id: string; expires_at: number }>(
        "SELECT session_id, lease_id, expires_at FROM leases WHERE session_id <> ? ORDER BY expires_at",
        input.sessionId,
      )
      .toArray();
    let tookOver = 0;
    if (others.length >= input.screens) {
      if (!input.takeOver) {
        const freedAt = others[others.length - input.screens]?.expires_at ?? now;
        return { granted: false, inUse: others.length, retryAfterMs: Math.max(0, freedAt - now) };
      }
      for (const ended of others.slice(0, others.length - input.screens + 1)) {
        sql.exec("DELETE FROM leases WHERE session_id = ?", ended.session_id);
        sql.exec(
          "INSERT INTO taken_over (session_id, lease_id, ended_at) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET lease_id = excluded.lease_id, ended_at = excluded.ended_at",
          ended.session_id,
          ended.lease_id,
          now,
        );
        tookOver++;
      }
    }
    // Every play is a new stream: the URLs of the session's previous play stop (see streamStatus).
    const leaseId = crypto.randomUUID();
    sql.exec(
      "INSERT INTO leases (session_id, video_id, expires_at, lease_id) VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET video_id = excluded.video_id, expires_at = excluded.expires_at, lease_id = excluded.lease_id",
      input.sessionId,
      input.videoId,
      now + input.leaseMs,
      leaseId,
    );
    const hint = sql.exec<{ bandwidth: number }>("SELECT bandwidth FROM stream_hints WHERE session_id = ?", input.sessionId).toArray()[0];
    return { granted: true, progress: this.readProgress(input.videoId), leaseId, bandwidthEstimate: hint?.bandwidth ?? null, tookOver };
  }

  /**
   * Whether the stream `leaseId` of a session may still be served (the media edge asks, for
   * playlists on every request and for segments at most every 20 s per isolate): one read of
   * this object's storage, nothing written.
   */
  async streamStatus(sessionId: string, leaseId: string): Promise<StreamStatus> {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT 1 FROM revoked_sessions WHERE session_id = ?", sessionId).toArray().length > 0) return { status: "revoked" };
    const lease = sql
      .exec<{ lease_id: string; expires_at: number }>("SELECT lease_id, expires_at FROM leases WHERE session_id = ?", sessionId)
      .toArray()[0];
    if (lease?.lease_id === leaseId) {
      return lease.expires_at > this.clock.now() ? { status: "live", expiresAt: lease.expires_at } : { status: "ended" };
    }
    if (sql.exec("SELECT 1 FROM taken_over WHERE session_id = ? AND lease_id = ?", sessionId, leaseId).toArray().length > 0) {
      return { status: "taken-over" };
    }
    return lease ? { status: "replaced" } : { status: "ended" };
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
    if (this.revoked(input.sessionId)) return { revoked: true };
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
      takenOver: this.ctx.storage.sql.exec("SELECT 1 FROM taken_over WHERE session_id = ?", input.sessionId).toArray().length > 0,
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
    if (this.revoked(sessionId)) return { revoked: true };
    return { revoked: false, progress: this.readProgress(videoId) };
  }

  /** The viewer's unfinished titles with their positions, most recently watched first (continue watching's progress bars). */
  async listProgress(
    sessionId: string,
    limit: number,
  ): Promise<{ revoked: true } | { revoked: false; items: (StoredProgress & { videoId: string })[] }> {
    if (this.revoked(sessionId)) return { revoked: true };
    const rows = this.ctx.storage.sql
      .exec<{ video_id: string; position: number; duration: number | null; updated_at: number }>(
        "SELECT video_id, position, duration, updated_at FROM progress WHERE finished = 0 ORDER BY updated_at DESC, video_id LIMIT ?",
        limit,
      )
      .toArray();
    return {
      revoked: false,
      items: rows.map((row) => ({
        videoId: row.video_id,
        positionSeconds: row.position,
        durationSeconds: row.duration,
        finished: false,
        updatedAt: row.updated_at,
      })),
    };
  }

  /** Ends the session's stream (the player stopped, or the session signed out). */
  async releaseLease(sessionId: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
  }

  /**
   * The player of stream `leaseId` stopped (paused for long, left, reached the end, the page was
   * hidden): its screen is free at once, if the session's lease is still that stream's (a later
   * play of the session keeps its own). `bandwidthEstimate` (bits per second, as the player measured
   * it) is kept for the session's next play. Answers whether a screen was freed.
   */
  async releaseStream(input: { sessionId: string; leaseId: string; bandwidthEstimate?: number }): Promise<boolean> {
    const sql = this.ctx.storage.sql;
    const now = this.clock.now();
    if (input.bandwidthEstimate !== undefined) {
      sql.exec(
        "INSERT INTO stream_hints (session_id, bandwidth, updated_at) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET bandwidth = excluded.bandwidth, updated_at = excluded.updated_at",
        input.sessionId,
        Math.round(input.bandwidthEstimate),
        now,
      );
    }
    const cursor = sql.exec("DELETE FROM leases WHERE session_id = ? AND lease_id = ?", input.sessionId, input.leaseId);
    cursor.toArray();
    return cursor.rowsWritten > 0;
  }

  /** Live leases, oldest expiry first. */
  async listLeases(): Promise<StreamLease[]> {
    return this.ctx.storage.sql
      .exec<{ session_id: string; video_id: string; expires_at: number }>(
        "SELECT session_id, video_id, expires_at FROM leases WHERE expires_at > ? ORDER BY expires_at",
        this.clock.now(),
      )
      .toArray()
      .map((row) => ({ sessionId: row.session_id, videoId: row.video_id, expiresAt: row.expires_at }));
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
    this.ctx.storage.sql.exec("DELETE FROM revoked_sessions WHERE forget_after <= ?", now);
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
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
    const nextPurge = this.ctx.storage.sql
      .exec<{ next: number | null }>("SELECT min(forget_after) AS next FROM revoked_sessions")
      .one().next;
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

  private revoked(sessionId: string): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM revoked_sessions WHERE session_id = ?", sessionId).toArray().length > 0;
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
