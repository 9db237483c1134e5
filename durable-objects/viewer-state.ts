import { DurableObject } from "cloudflare:workers";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { USER_COPIES_KIND, type UserCopiesAck, type UserCopiesMessage } from "./viewer-state/user-copies.ts";
import {
  acknowledgeProgress,
  hasUnacknowledgedProgress,
  nextSendAt,
  RESEND_AFTER_MS,
  unacknowledgedProgress,
} from "./viewer-state/write-behind.ts";

/** After the queue refused a message: wait this long, doubling up to the maximum. Rows stay dirty meanwhile. */
const SEND_RETRY_MIN_MS = 5_000;
const SEND_RETRY_MAX_MS = 300_000;

const LOG_SCOPE = { durableObject: "ViewerState" };

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

/**
 * What the media edge needs to know about one stream (`streamStatus`):
 * - `live`: the session's lease is this stream's and has not lapsed (until `expiresAt`);
 * - `replaced`: the session played something since (another title, or this one again);
 * - `ended`: the lease lapsed without heartbeats, or was released (the player stopped, the plan
 *   changed, the session signed out);
 * - `revoked`: the session signed out.
 */
export type StreamStatus = { status: "live"; expiresAt: number } | { status: "replaced" | "ended" | "revoked" };

/** The write-behind's counters (`flushStats`); the first three are kept in storage. */
export interface FlushStats {
  /** Messages handed to the queue. */
  messagesSent: number;
  /** Rows Postgres acknowledged, each counted once per version. */
  rowsAcknowledged: number;
  /** Sends the queue refused (retried with backoff). */
  sendFailures: number;
  /** Rows not yet acknowledged: changed since the last message, or in it. */
  dirtyRows: number;
  /** When the message in flight was sent; null when none is. */
  inFlightSince: number | null;
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
 *   to Postgres: the alarm sends the changed rows as one message on the user-copies queue, whose
 *   consumer writes a batch of users in one transaction and acknowledges each row's version back
 *   (`copiesWritten`). A row is kept dirty until then, so nothing is lost while Postgres is down.
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
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
    await this.scheduleAlarm(forgetAfterMs);
  }

  /** Answers, and touches nothing: `/health`'s check that Durable Objects can be reached. */
  async ping(): Promise<"pong"> {
    return "pong";
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.revoked(sessionId);
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
    if (this.revoked(input.sessionId)) return { granted: false, revoked: true };
    this.rememberOwner(input.userId);
    const now = this.clock.now();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    const others = sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM leases WHERE session_id <> ? ORDER BY expires_at", input.sessionId)
      .toArray();
    if (others.length >= input.screens) {
      const freedAt = others[others.length - input.screens]?.expires_at ?? now;
      return { granted: false, inUse: others.length, retryAfterMs: Math.max(0, freedAt - now) };
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
    return { granted: true, progress: this.readProgress(input.videoId), leaseId };
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
    if (!lease) return { status: "ended" };
    if (lease.lease_id !== leaseId) return { status: "replaced" };
    return lease.expires_at > this.clock.now() ? { status: "live", expiresAt: lease.expires_at } : { status: "ended" };
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
    // `updated_at` is the row's version (the write-behind acknowledges by it, Postgres keeps the
    // newest): strictly increasing, even for two heartbeats within one millisecond.
    const [stored] = this.write<{ updated_at: number }>(
      `INSERT INTO progress (video_id, position, duration, finished, updated_at, dirty) VALUES (?, ?, ?, ?, ?, 1)
       ON CONFLICT (video_id) DO UPDATE SET position = excluded.position, duration = excluded.duration,
         finished = excluded.finished, updated_at = max(excluded.updated_at, progress.updated_at + 1), dirty = 1
       RETURNING updated_at`,
      input.videoId,
      input.positionSeconds,
      input.durationSeconds,
      finished ? 1 : 0,
      now,
    );
    const updatedAt = stored?.updated_at ?? now;
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
    // Heartbeats gather for `flushDelayMs`; with a message in flight, the alarm waits for its acknowledgement.
    await this.scheduleAlarm(now + input.flushDelayMs);
    this.heartbeats++;
    this.heartbeatRowsWritten += this.written - before;
    return {
      revoked: false,
      progress: { positionSeconds: input.positionSeconds, durationSeconds: input.durationSeconds, finished, updatedAt },
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

  /** Ends the session's stream (the player stopped, or the session signed out). */
  async releaseLease(sessionId: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
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
      messagesSent: Number(this.meta("messages_sent") ?? 0),
      rowsAcknowledged: Number(this.meta("rows_acknowledged") ?? 0),
      sendFailures: Number(this.meta("send_failures") ?? 0),
      dirtyRows,
      inFlightSince: this.inFlightSince(),
      heartbeats: this.heartbeats,
      heartbeatRowsWritten: this.heartbeatRowsWritten,
    };
  }

  /**
   * The consumer wrote a message of this user's copies to Postgres: forgets each row whose version
   * is the one written (a row changed since stays dirty, and goes in the next message), and lets
   * the next message go.
   */
  async copiesWritten(ack: UserCopiesAck): Promise<void> {
    const forgotten = acknowledgeProgress(this.ctx.storage.sql, ack);
    if (forgotten > 0) this.setMeta("rows_acknowledged", String(Number(this.meta("rows_acknowledged") ?? 0) + forgotten));
    this.setMeta("in_flight_since", null);
    const next = nextSendAt({
      pending: hasUnacknowledgedProgress(this.ctx.storage.sql),
      inFlightSince: null,
      now: this.clock.now(),
      flushDelayMs: this.flushDelayMs(),
    });
    if (next !== null) await this.scheduleAlarm(next);
  }

  /**
   * Purges forgotten revocations and lapsed leases, and sends the rows Postgres has not
   * acknowledged (one message at a time; see write-behind.ts). A send the queue refuses is
   * retried with backoff.
   */
  override async alarm(): Promise<void> {
    const now = this.clock.now();
    this.ctx.storage.sql.exec("DELETE FROM revoked_sessions WHERE forget_after <= ?", now);
    this.ctx.storage.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    let retryAt: number | null = null;
    try {
      await this.sendUnacknowledged(now);
      this.setMeta("retry_ms", null);
    } catch (error) {
      const delay = Math.min(SEND_RETRY_MAX_MS, Number(this.meta("retry_ms") ?? SEND_RETRY_MIN_MS / 2) * 2);
      this.setMeta("retry_ms", String(delay));
      this.setMeta("send_failures", String(Number(this.meta("send_failures") ?? 0) + 1));
      retryAt = this.clock.now() + delay;
      this.log.warn("watch progress not handed to the queue; will retry", { retryInMs: delay, error });
    }
    const nextPurge = this.ctx.storage.sql
      .exec<{ next: number | null }>("SELECT min(forget_after) AS next FROM revoked_sessions")
      .one().next;
    const pending = hasUnacknowledgedProgress(this.ctx.storage.sql);
    const nextSend =
      pending && retryAt !== null
        ? retryAt
        : nextSendAt({ pending, inFlightSince: this.inFlightSince(), now: this.clock.now(), flushDelayMs: this.flushDelayMs() });
    const next = [nextPurge, nextSend].filter((at): at is number => at !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  /** One message of the rows not yet acknowledged, unless one is in flight and not yet overdue. */
  private async sendUnacknowledged(now: number): Promise<void> {
    const inFlightSince = this.inFlightSince();
    if (inFlightSince !== null && now < inFlightSince + RESEND_AFTER_MS) return;
    const userId = this.meta("user_id");
    const progress = unacknowledgedProgress(this.ctx.storage.sql);
    if (!userId || progress.length === 0) return;
    if (inFlightSince !== null)
      this.log.warn("user copies unacknowledged for too long; sending them again", { inFlightSince, rows: progress.length });
    await this.sendCopies({ kind: USER_COPIES_KIND, userId, sentAt: now, progress });
    this.setMeta("in_flight_since", String(now));
    this.setMeta("messages_sent", String(Number(this.meta("messages_sent") ?? 0) + 1));
  }

  /** Hands one message to the user-copies queue. A subclass may record it (the test Worker) or write it another way (a benchmark's old path). */
  protected async sendCopies(message: UserCopiesMessage): Promise<void> {
    await this.env.USER_COPIES_QUEUE.send(message, { contentType: "json" });
  }

  private inFlightSince(): number | null {
    const value = this.meta("in_flight_since");
    return value === null ? null : Number(value);
  }

  private flushDelayMs(): number {
    return Number(this.meta("flush_delay_ms") ?? 60_000);
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

  /** Runs a statement, counting the rows it wrote (`bench:playback` reports them per heartbeat); answers what it returned. */
  private write<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(
    query: string,
    ...bindings: SqlStorageValue[]
  ): T[] {
    const cursor = this.ctx.storage.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    this.written += cursor.rowsWritten;
    return rows;
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
