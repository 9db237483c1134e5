import { MAX_ROWS_PER_SECTION, type ProgressCopy, type UserCopiesAck } from "./user-copies.ts";

/**
 * The object's side of the write-behind to Postgres (the queue and its consumer are in
 * workers/user-copies/). Rows are `dirty` until Postgres acknowledges the very version they hold;
 * one message at a time is in flight per object, so an outage leaves one message per user waiting
 * in the queue, not one per flush.
 */

/**
 * A message unacknowledged for this long is sent again (its rows as they are now): the queue's
 * retries and dead-letter path keep a message for as long as Postgres is down, so this covers a
 * message lost outright (retention ran out, a bug) rather than an outage, and is rarely needed.
 */
export const RESEND_AFTER_MS = 15 * 60_000;

interface ProgressRowInStorage {
  video_id: string;
  position: number;
  duration: number | null;
  finished: number;
  updated_at: number;
  country: string | null;
  [key: string]: SqlStorageValue;
}

/** The rows Postgres has not acknowledged yet, oldest first, at most a message's worth. */
export function unacknowledgedProgress(sql: SqlStorage): ProgressCopy[] {
  return sql
    .exec<ProgressRowInStorage>(
      "SELECT video_id, position, duration, finished, updated_at, country FROM progress WHERE dirty = 1 ORDER BY updated_at LIMIT ?",
      MAX_ROWS_PER_SECTION,
    )
    .toArray()
    .map((row) => ({
      videoId: row.video_id,
      positionSeconds: row.position,
      durationSeconds: row.duration,
      finished: row.finished === 1,
      updatedAt: row.updated_at,
      country: row.country,
    }));
}

export function hasUnacknowledgedProgress(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM progress WHERE dirty = 1 LIMIT 1").toArray().length > 0;
}

/**
 * Forgets the rows Postgres now holds: each only if it still has the version that was written (a
 * heartbeat since then changed `updated_at`, and that row stays to be sent). Returns how many.
 */
export function acknowledgeProgress(sql: SqlStorage, ack: UserCopiesAck): number {
  let forgotten = 0;
  for (const row of ack.progress ?? []) {
    forgotten += sql.exec(
      "UPDATE progress SET dirty = 0 WHERE video_id = ? AND updated_at = ? AND dirty = 1",
      row.videoId,
      row.updatedAt,
    ).rowsWritten;
  }
  return forgotten;
}

/**
 * When the next message may go: not while one is in flight (until it is acknowledged, or
 * `RESEND_AFTER_MS` has passed), otherwise `flushDelayMs` after `now` so heartbeats gather.
 * Null when nothing waits.
 */
export function nextSendAt(state: { pending: boolean; inFlightSince: number | null; now: number; flushDelayMs: number }): number | null {
  if (!state.pending) return null;
  if (state.inFlightSince !== null && state.inFlightSince + RESEND_AFTER_MS > state.now) return state.inFlightSince + RESEND_AFTER_MS;
  return state.now + state.flushDelayMs;
}
