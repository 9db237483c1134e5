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
 * - `revoked`: the session signed out.
 */
export type StreamStatus = { status: "live"; expiresAt: number } | { status: "replaced" | "ended" | "revoked" };

/** Refused: `inUse` other sessions hold the plan's screens; the first frees up in `retryAfterMs`. */
export interface ScreensInUse {
  inUse: number;
  retryAfterMs: number;
}

/**
 * Screen leases: one per signed-in session, renewed by heartbeats, capped by the plan's screens.
 * A session holds at most one lease, so switching titles on a device never uses a second screen.
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
  }

  /**
   * Takes the session's screen for `videoId`, or moves it there. Refused when `screens` other
   * sessions hold live leases. Every play is a new stream: the URLs of the session's previous play
   * stop (see `status`).
   */
  take(input: { sessionId: string; videoId: string; screens: number; leaseMs: number }): { leaseId: string } | ScreensInUse {
    const now = this.clock.now();
    this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
    const others = this.sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM leases WHERE session_id <> ? ORDER BY expires_at", input.sessionId)
      .toArray();
    if (others.length >= input.screens) {
      const freedAt = others[others.length - input.screens]?.expires_at ?? now;
      return { inUse: others.length, retryAfterMs: Math.max(0, freedAt - now) };
    }
    const leaseId = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO leases (session_id, video_id, expires_at, lease_id) VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET video_id = excluded.video_id, expires_at = excluded.expires_at, lease_id = excluded.lease_id",
      input.sessionId,
      input.videoId,
      now + input.leaseMs,
      leaseId,
    );
    return { leaseId };
  }

  /** Whether the stream `leaseId` of a live session may still be served: one read, nothing written. */
  status(sessionId: string, leaseId: string): StreamStatus {
    const lease = this.sql
      .exec<{ lease_id: string; expires_at: number }>("SELECT lease_id, expires_at FROM leases WHERE session_id = ?", sessionId)
      .toArray()[0];
    if (!lease) return { status: "ended" };
    if (lease.lease_id !== leaseId) return { status: "replaced" };
    return lease.expires_at > this.clock.now() ? { status: "live", expiresAt: lease.expires_at } : { status: "ended" };
  }

  release(sessionId: string): void {
    this.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
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

  purge(now: number): void {
    this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
  }
}
