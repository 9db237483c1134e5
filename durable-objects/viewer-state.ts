import { DurableObject } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import type { Database } from "../workers/platform/db.ts";
import {
  type Entitlement,
  entitlementAt,
  playsLess,
  type SubscriptionCopy,
  type VersionedSubscription,
} from "../workers/platform/entitlement.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { withServices } from "../workers/platform/services.ts";
import { AccountCopies, type AccountCopy, type EntitlementAnswer, type VersionedAccount } from "./viewer-state/account.ts";
import { Leases, type StreamLease, type StreamStatus } from "./viewer-state/leases.ts";
import { type NewSession, type RefreshResult, Sessions } from "./viewer-state/sessions.ts";

export type { AccountCopy, EntitlementAnswer, NewSession, RefreshResult, StreamLease, StreamStatus, VersionedAccount };

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

/** What play may do (`startStream`): nothing is taken unless `granted`. */
export type StartStreamResult =
  | {
      granted: true;
      progress: StoredProgress | null;
      /** This play's stream: new on every play, carried by its media token (see `streamStatus`). */
      leaseId: string;
      /** The plan the lease was taken under (its height caps the media token). */
      entitlement: Entitlement;
    }
  /** The session was signed out. */
  | { granted: false; refused: "revoked" }
  /** The object holds no copy of the subscription yet: call again with `fill` (from Postgres). */
  | { granted: false; refused: "not-copied" }
  /** No subscription, or a canceled one past its period (402). */
  | { granted: false; refused: "no-plan" }
  /** Every screen of the plan is taken by other sessions (429). */
  | { granted: false; refused: "screens"; screens: number; inUse: number; retryAfterMs: number };

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
 * user's live state, and everything a signed-in viewer's path needs without Postgres. An object
 * stays where it was first created (Durable Objects do not move): near where the user first
 * signed up or in.
 * - Sessions and their refresh-token families (viewer-state/sessions.ts): sign-in and sign-up
 *   open them here, refresh rotates here, sign-out revokes here. Revoked sessions are kept until
 *   every credential derived from the session (access tokens, signed media URLs) has expired:
 *   playback, account and admin routes and the media space ask here, so sign-out stops them on
 *   the next request from any location.
 * - Copies of the account and of the subscription with its plan's limits (viewer-state/account.ts),
 *   kept in step by the services that change them: `GET /v1/me`, refresh and play read them.
 * - Watch progress ("watched till" per video): acknowledged once in SQLite storage, written behind
 *   to Postgres in batches by the alarm, so a burst of heartbeats makes one database write.
 * - Screen leases: one per signed-in session, renewed by heartbeats, capped by the plan's screens.
 */
export class ViewerState extends DurableObject<Env> {
  private readonly log = createLogger(LOG_SCOPE);
  private readonly sessions: Sessions;
  private readonly leases: Leases;
  private readonly copies: AccountCopies;
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
    this.copies = new AccountCopies(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      const storage = this.ctx.storage.sql;
      this.sessions.createTables();
      this.leases.createTables();
      this.copies.createTables();
      storage.exec(`CREATE TABLE IF NOT EXISTS progress (
        video_id TEXT PRIMARY KEY, position REAL NOT NULL, duration REAL, finished INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL)`);
      // Who this object belongs to (the flush needs the user id) and the flush's bookkeeping.
      storage.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    });
  }

  /**
   * Opens a session (sign-in, sign-up: Postgres has the account and checked the password): its
   * refresh-token family, and the account's copy as Postgres has it now. At sign-up the
   * subscription's copy too ("none"), so the new user's first play needs no query.
   */
  async openSession(input: { session: NewSession; account: VersionedAccount; subscription?: VersionedSubscription }): Promise<void> {
    this.rememberOwner(input.account.account.id);
    this.copies.putAccount(input.account);
    if (input.subscription) this.copies.putSubscription(input.subscription, { onlyIfMissing: true });
    this.sessions.open(input.session, this.clock.now());
    await this.scheduleAlarm(input.session.expiresAt);
  }

  /**
   * Exchanges the family's live refresh token for the next (hashes only; the Worker makes the
   * tokens), and answers the account the new access token claims. A reused token revokes its
   * session here, in the same call; `forgetAfterMs` is as for `revokeSession`.
   */
  async refreshSession(input: {
    familyHash: string;
    tokenHash: string;
    nextTokenHash: string;
    forgetAfterMs: number;
  }): Promise<RefreshResult> {
    const account = this.copies.account();
    if (!account) return { outcome: "unknown" };
    const rotation = this.sessions.rotate(input, this.clock.now());
    switch (rotation.outcome) {
      case "rotated":
        return { outcome: "rotated", sessionId: rotation.sessionId, account };
      case "reused":
        await this.revokeSession(rotation.sessionId, input.forgetAfterMs);
        return { ...rotation, userId: account.id };
      default:
        return rotation;
    }
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

  /** Signs out everywhere: revokes every open session and ends every stream at once; answers the sessions revoked. */
  async revokeAllSessions(forgetAfterMs: number): Promise<string[]> {
    const revoked = this.sessions.openIds(this.clock.now());
    for (const sessionId of revoked) this.sessions.revoke(sessionId, forgetAfterMs);
    this.leases.releaseAll();
    await this.scheduleAlarm(forgetAfterMs);
    return revoked;
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.sessions.isRevoked(sessionId);
  }

  /** Keeps a newer copy of the account (sign-in, a role or profile change, the cron's sync); answers whether it was kept. */
  async putAccount(copy: VersionedAccount): Promise<boolean> {
    this.rememberOwner(copy.account.id);
    return this.copies.putAccount(copy);
  }

  /** The copies `GET /v1/me` shows: null account / undefined subscription when not copied yet. */
  async accountView(): Promise<{ account: AccountCopy | null; subscription: SubscriptionCopy | null | undefined }> {
    return { account: this.copies.account(), subscription: this.copies.subscription() };
  }

  /**
   * Keeps a newer copy of the subscription (the subscriptions service, after every change; the
   * cron's sync). When the plan now plays less than the one held (a lower height, fewer screens,
   * none), every stream ends in the same call, so URLs signed for the old plan stop. With
   * `onlyIfMissing` (a lazy fill from Postgres) a copy already held is left alone.
   */
  async putSubscription(
    copy: VersionedSubscription,
    options: { onlyIfMissing?: boolean } = {},
  ): Promise<{ kept: boolean; streamsEnded: number }> {
    const now = this.clock.now();
    const before = this.copies.entitlement(now);
    if (!this.copies.putSubscription(copy, options)) return { kept: false, streamsEnded: 0 };
    // Play takes a lease only under a copy (`startStream`): an object that held none has no stream
    // of a plan to lower.
    const lowered = playsLess(before ?? null, entitlementAt(copy.subscription, now));
    return { kept: true, streamsEnded: lowered ? this.leases.releaseAll() : 0 };
  }

  /** The user's entitlement for a session's checks that take nothing (`HEAD` play, a refusal's order). */
  async readEntitlement(sessionId: string): Promise<EntitlementAnswer> {
    if (this.sessions.isRevoked(sessionId)) return { revoked: true };
    const entitlement = this.copies.entitlement(this.clock.now());
    return entitlement === undefined ? { revoked: false, copied: false } : { revoked: false, copied: true, entitlement };
  }

  /**
   * Play, in one call: checks the session, the plan (the held subscription, its period compared
   * with this object's clock) and its screens, then takes the session's screen for `videoId`, or
   * moves it there: a session holds at most one lease, so switching titles on a device never uses
   * a second screen. Answers the title's progress too (for `resumeAt`). `fill`: the subscription
   * as Postgres has it, for an object that answered `not-copied`.
   */
  async startStream(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    leaseMs: number;
    fill?: VersionedSubscription;
  }): Promise<StartStreamResult> {
    if (this.sessions.isRevoked(input.sessionId)) return { granted: false, refused: "revoked" };
    this.rememberOwner(input.userId);
    if (input.fill) this.copies.putSubscription(input.fill, { onlyIfMissing: true });
    const entitlement = this.copies.entitlement(this.clock.now());
    if (entitlement === undefined) return { granted: false, refused: "not-copied" };
    if (entitlement === null) return { granted: false, refused: "no-plan" };
    const lease = this.leases.take({ ...input, screens: entitlement.screens });
    if (!("leaseId" in lease)) return { granted: false, refused: "screens", screens: entitlement.screens, ...lease };
    return { granted: true, progress: this.readProgress(input.videoId), leaseId: lease.leaseId, entitlement };
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
