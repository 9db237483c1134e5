/**
 * Quality of experience, as the viewer lived it: how long the first frame took, how often and how
 * long playback stalled, how often the rendition changed, and what stopped it. The player feeds
 * the meter its element's and hls.js's events; the meter sends what it measured to
 * `POST /v1/qoe` (docs/api.md) at most every `QOE_INTERVAL_MS` while playing, and once more when
 * the player closes or the page is hidden, with `navigator.sendBeacon` (it outlives the page; it
 * carries no Authorization header: the play's `manifestUrl` in the body proves the play).
 */

/** The API takes 30 beacons a minute per account; a 10 s interval is 6 per screen, 24 for 4 screens. */
export const QOE_INTERVAL_MS = 10_000;

/** What `POST /v1/qoe` accepts (workers/playback/schema.ts `qoeBeacon`). */
export interface QoeReport {
  manifestUrl: string;
  startupMs?: number;
  playingMs: number;
  rebufferCount: number;
  rebufferMs: number;
  rungSwitches: number;
  heightPx?: number;
  fatalError?: "network" | "media" | "key" | "other";
}

export interface QoeMeter {
  /** The element plays (first frame, or again after a pause, a seek or a stall). */
  playing(): void;
  /** Paused, ended or detached: playing time stops counting. */
  stopped(): void;
  /** The element waits for data: a stall, unless it is seeking. */
  waiting(seeking: boolean): void;
  /** hls.js switched rendition (its first pick is not a switch). */
  switched(heightPx: number): void;
  /** An error stopped playback. */
  fatal(kind: NonNullable<QoeReport["fatalError"]>): void;
  /** Sends what was measured since the last report, if anything was; `final` ignores the interval. */
  flush(final?: boolean): void;
}

/** A whole number of milliseconds within what the API accepts (an hour; a hidden tab's timers may wait longer). */
const whole = (ms: number) => Math.min(3_600_000, Math.max(0, Math.round(ms)));

/**
 * A meter for one play. `requestedAt` is when the viewer asked to play (before the play request),
 * on the `now` clock; `send` delivers a report (`sendQoeBeacon` in the app).
 *
 * @example
 * const meter = createQoeMeter(playback.manifestUrl, requestedAt, sendQoeBeacon);
 * element.addEventListener("playing", () => meter.playing());
 */
export function createQoeMeter(
  manifestUrl: string,
  requestedAt: number,
  send: (report: QoeReport) => void,
  now: () => number = () => performance.now(),
): QoeMeter {
  let startupMs: number | undefined;
  let startupSent = false;
  let playingSince: number | undefined;
  let stalledSince: number | undefined;
  let playingMs = 0;
  let rebufferCount = 0;
  let rebufferMs = 0;
  let rungSwitches = 0;
  let heightPx: number | undefined;
  let fatalError: QoeReport["fatalError"];
  let lastSent = Number.NEGATIVE_INFINITY;

  const settle = (at: number) => {
    if (playingSince !== undefined) {
      playingMs += at - playingSince;
      playingSince = at;
    }
    if (stalledSince !== undefined) {
      rebufferMs += at - stalledSince;
      stalledSince = at;
    }
  };

  return {
    playing() {
      const at = now();
      settle(at);
      if (startupMs === undefined) startupMs = Math.min(600_000, whole(at - requestedAt));
      stalledSince = undefined;
      playingSince = at;
    },
    stopped() {
      settle(now());
      playingSince = undefined;
      stalledSince = undefined;
    },
    waiting(seeking) {
      const at = now();
      settle(at);
      playingSince = undefined;
      // A wait before the first frame is startup time, and one after a seek is the seek's.
      if (!seeking && startupMs !== undefined && stalledSince === undefined) {
        rebufferCount++;
        stalledSince = at;
      }
    },
    switched(height) {
      if (heightPx !== undefined && height !== heightPx) rungSwitches++;
      heightPx = height;
    },
    fatal(kind) {
      fatalError = kind;
    },
    flush(final = false) {
      const at = now();
      if (!final && at - lastSent < QOE_INTERVAL_MS) return;
      settle(at);
      const firstReport = startupMs !== undefined && !startupSent;
      if (!firstReport && playingMs < 1 && rebufferCount === 0 && rebufferMs < 1 && rungSwitches === 0 && !fatalError) return;
      send({
        manifestUrl,
        ...(firstReport ? { startupMs } : {}),
        playingMs: whole(playingMs),
        rebufferCount: Math.min(rebufferCount, 10_000),
        rebufferMs: whole(rebufferMs),
        rungSwitches: Math.min(rungSwitches, 10_000),
        ...(heightPx && heightPx <= 4320 ? { heightPx } : {}),
        ...(fatalError ? { fatalError } : {}),
      });
      startupSent ||= firstReport;
      lastSent = at;
      playingMs = rebufferMs = 0;
      rebufferCount = rungSwitches = 0;
      fatalError = undefined;
    },
  };
}

/** Sends a report so that it outlives the page; a report that cannot be sent is dropped (it is a metric). */
export function sendQoeBeacon(report: QoeReport): void {
  const body = JSON.stringify(report);
  const queued = navigator.sendBeacon?.("/v1/qoe", new Blob([body], { type: "application/json" }));
  if (!queued) {
    fetch("/v1/qoe", { method: "POST", body, headers: { "Content-Type": "application/json" }, keepalive: true }).catch(() => {});
  }
}
