import type { Clock } from "../../workers/platform/clock.ts";

export interface StreamLease {
  sessionId: string;
  videoId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

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
/** How long a session's bandwidth hint is kept after its last release (a refresh token's life: the session is over by then). */
const HINT_MEMORY_MS = 30 * 86_400_000;

/** Refused: `inUse` other sessions hold the plan's screens; the first frees up in `retryAfterMs`. */
export interface ScreensInUse {
  inUse: number;
  retryAfterMs: number;
}

/** Granted: the new stream, the streams of other sessions ended for it, the session's bandwidth hint. */
export interface TakenLease {
  leaseId: string;
  /** Streams of other sessions ended to make room (`takeOver`): 0 or 1 in practice. */
  tookOver: number;
  /** Bits per second this session's player measured when its previous stream was released, or null. */
  bandwidthEstimate: number | null;
}

/**
 * Screen leases: one per signed-in session, renewed by heartbeats, capped by the plan's screens.
 * A session holds at most one lease, so switching titles on a device never uses a second screen.
 * Beside them, per session: the stream a take-over ended (so its player learns why) and the
 * bandwidth its player measured by the end of its last stream (the next play's starting rung).
 */
export class Leases {
  constructor(
    private readonly sql: SqlStorage,
    private readonly clock: Clock,
  ) {}

  createTables(): void {
    // `lease_id`: which play holds the session's screen (see `status`).
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS leases (session_id TEXT PRIMARY KEY, video_id TEXT NOT NULL, expires_at INTEGER NOT NULL, lease_id TEXT NOT NULL)",
    );
    // Streams ended by another session's take-over, so their next request learns why (one row per session).
    this.sql.exec("CREATE TABLE IF NOT EXISTS taken_over (session_id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, ended_at INTEGER NOT NULL)");
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS stream_hints (session_id TEXT PRIMARY KEY, bandwidth INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    );
  }

  /**
   * Takes the session's screen for `videoId`, or moves it there. Refused when `screens` other
   * sessions hold live leases, unless `takeOver` ("watch here instead"): then the streams of other
   * sessions that went longest without a heartbeat (the first to expire) are ended to make room,
   * and remembered as taken over. Every play is a new stream: the URLs of the session's previous
   * play stop (see `status`).
   */
  take(input: { sessionId: string; videoId: string; screens: number; leaseMs: number; takeOver?: boolean }): TakenLease | ScreensInUse {
    const now = this.clock.now();
    this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    // Playing again is the answer to a take-over: the session's reason is read no more.
    this.sql.exec("DELETE FROM taken_over WHERE session_id = ?", input.sessionId);
    const others = this.sql
      .exec<{ session_id: string; lease_id: string; expires_at: number }>(
        "SELECT session_id, lease_id, expires_at FROM leases WHERE session_id <> ? ORDER BY expires_at",
        input.sessionId,
      )
      .toArray();
    let tookOver = 0;
    if (others.length >= input.screens) {
      if (!input.takeOver) {
        const freedAt = others[others.length - input.screens]?.expires_at ?? now;
        return { inUse: others.length, retryAfterMs: Math.max(0, freedAt - now) };
      }
      for (const ended of others.slice(0, others.length - input.screens + 1)) {
        this.sql.exec("DELETE FROM leases WHERE session_id = ?", ended.session_id);
        this.sql.exec(
          "INSERT INTO taken_over (session_id, lease_id, ended_at) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET lease_id = excluded.lease_id, ended_at = excluded.ended_at",
          ended.session_id,
          ended.lease_id,
          now,
        );
        tookOver++;
      }
    }
    const leaseId = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO leases (session_id, video_id, expires_at, lease_id) VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET video_id = excluded.video_id, expires_at = excluded.expires_at, lease_id = excluded.lease_id",
      input.sessionId,
      input.videoId,
      now + input.leaseMs,
      leaseId,
    );
    const hint = this.sql
      .exec<{ bandwidth: number }>("SELECT bandwidth FROM stream_hints WHERE session_id = ?", input.sessionId)
      .toArray()[0];
    return { leaseId, tookOver, bandwidthEstimate: hint?.bandwidth ?? null };
  }

  /** Whether the stream `leaseId` of a live session may still be served: one read, nothing written. */
  status(sessionId: string, leaseId: string): StreamStatus {
    const lease = this.sql
      .exec<{ lease_id: string; expires_at: number }>("SELECT lease_id, expires_at FROM leases WHERE session_id = ?", sessionId)
      .toArray()[0];
    if (lease?.lease_id === leaseId) {
      return lease.expires_at > this.clock.now() ? { status: "live", expiresAt: lease.expires_at } : { status: "ended" };
    }
    if (this.sql.exec("SELECT 1 FROM taken_over WHERE session_id = ? AND lease_id = ?", sessionId, leaseId).toArray().length > 0) {
      return { status: "taken-over" };
    }
    return lease ? { status: "replaced" } : { status: "ended" };
  }

  /** Whether the session's last stream was ended by another session's take-over (and it has not played since). */
  takenOver(sessionId: string): boolean {
    return this.sql.exec("SELECT 1 FROM taken_over WHERE session_id = ?", sessionId).toArray().length > 0;
  }

  release(sessionId: string): void {
    this.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
  }

  /**
   * The player of stream `leaseId` stopped: frees the session's screen if its lease is still that
   * stream's (a later play of the session keeps its own), and keeps `bandwidthEstimate` (bits per
   * second) for the session's next play. Answers whether a screen was freed.
   */
  releaseStream(input: { sessionId: string; leaseId: string; bandwidthEstimate?: number }): boolean {
    if (input.bandwidthEstimate !== undefined) {
      this.sql.exec(
        "INSERT INTO stream_hints (session_id, bandwidth, updated_at) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET bandwidth = excluded.bandwidth, updated_at = excluded.updated_at",
        input.sessionId,
        Math.round(input.bandwidthEstimate),
        this.clock.now(),
      );
    }
    const cursor = this.sql.exec("DELETE FROM leases WHERE session_id = ? AND lease_id = ?", input.sessionId, input.leaseId);
    cursor.toArray();
    return cursor.rowsWritten > 0;
  }

  /** A session signed out: its lease, its take-over reason and its hint go. */
  forget(sessionId: string): void {
    for (const table of ["leases", "taken_over", "stream_hints"]) this.sql.exec(`DELETE FROM ${table} WHERE session_id = ?`, sessionId);
  }

  /** Ends every stream of the user (a plan that plays less, sign-out everywhere); answers how many there were. */
  releaseAll(): number {
    const live = this.list().length;
    this.sql.exec("DELETE FROM leases");
    return live;
  }

  /** Live leases, oldest expiry first. */
  list(): StreamLease[] {
    return this.sql
      .exec<{ session_id: string; video_id: string; expires_at: number }>(
        "SELECT session_id, video_id, expires_at FROM leases WHERE expires_at > ? ORDER BY expires_at",
        this.clock.now(),
      )
      .toArray()
      .map((row) => ({ sessionId: row.session_id, videoId: row.video_id, expiresAt: row.expires_at }));
  }

  /** Lapsed leases, take-over reasons older than a day, hints of sessions that have not released for 30 days. */
  purge(now: number): void {
    this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    this.sql.exec("DELETE FROM taken_over WHERE ended_at <= ?", now - TAKEN_OVER_MEMORY_MS);
    this.sql.exec("DELETE FROM stream_hints WHERE updated_at <= ?", now - HINT_MEMORY_MS);
  }
}
