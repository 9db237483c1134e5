import type { StreamStatus } from "../../durable-objects/viewer-state.ts";
import type { MediaGrant } from "../platform/media-token.ts";

/**
 * How long one isolate may reuse the user's `ViewerState` answer for a stream's segments (issues
 * 15.1 and 15.2): the bound on how long segments keep flowing after the stream's screen is gone
 * (signed out, replaced by another play, lapsed, released). Playlists never reuse an answer.
 */
export const SEGMENT_STREAM_CHECK_SECONDS = 20;

/** Remembered answers; beyond this many, the memory starts again (every entry lives 20 s at most anyway). */
const MAX_ENTRIES = 10_000;

interface Remembered {
  status: StreamStatus;
  /** Milliseconds since the epoch: reuse this answer until then. */
  until: number;
}

/**
 * The per-isolate memory of stream checks, keyed by the play (`leaseId`, never reused), so an
 * answer for one play can never stand for another. A live answer is reused until the sooner of 20 s
 * and the lease's own expiry (a lease that lapses stops its segments at that moment; heartbeats
 * that renewed it meanwhile are seen by the next ask); any other answer is final for that play,
 * and is reused for 20 s so that a refused player hammering its segments costs one Durable Object
 * call per 20 s and isolate, not one per request.
 */
export class StreamChecks {
  private readonly remembered = new Map<string, Remembered>();

  /**
   * The stream's status at `now` (the request's clock); `reuse` allows an answer remembered from an
   * earlier request (segments), otherwise `ask` (the user's `ViewerState`) answers (playlists).
   */
  async status(grant: MediaGrant, options: { reuse: boolean; now: number }, ask: () => Promise<StreamStatus>): Promise<StreamStatus> {
    const { reuse, now } = options;
    const key = `${grant.userId}:${grant.sessionId}:${grant.leaseId}`;
    const known = this.remembered.get(key);
    if (reuse && known && known.until > now) return known.status;
    const status = await ask();
    const horizon = now + SEGMENT_STREAM_CHECK_SECONDS * 1000;
    if (this.remembered.size >= MAX_ENTRIES) this.remembered.clear();
    this.remembered.set(key, { status, until: status.status === "live" ? Math.min(horizon, status.expiresAt) : horizon });
    return status;
  }
}
