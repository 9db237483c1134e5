/**
 * Metrics: one Workers Analytics Engine datapoint per event (wrangler.toml `analytics_engine_datasets`,
 * binding `METRICS`; the dashboard's SQL and the alerts are in docs/operations.md). Every event
 * has the same first columns, so one dataset serves them all:
 *
 * | column | request | transcode_task | player_qoe |
 * |---|---|---|---|
 * | index1 | `request:{route}` | `transcode_task:{kind}` | `player_qoe` |
 * | blob1 | `request` | `transcode_task` | `player_qoe` |
 * | blob2 | Worker version id | Worker version id | Worker version id |
 * | blob3 | route template (`/v1/videos/{id}`) | task kind | video id |
 * | blob4 | method | outcome (`done`, `failed`, `stalled`, `handed-back`) | fatal error (`network`, `media`, `key`, `other`, or empty) |
 * | blob5 | cache status (`HIT`, `MISS`, or empty) | instance type | colo |
 * | blob6 | colo | | country |
 * | double1 | status | seconds since dispatch | startup ms (-1: not in this report) |
 * | double2 | duration ms | attempt | playing ms |
 * | double3 | | | rebuffer count |
 * | double4 | | | rebuffer ms |
 * | double5 | | | rung switches |
 * | double6 | | | playing height (0: unknown) |
 *
 * Analytics Engine samples what it stores at high volume; queries weigh each row by
 * `_sample_interval`. Writes never fail the work they describe.
 */
export interface Metrics {
  request(point: RequestPoint): void;
  transcodeTask(point: TranscodeTaskPoint): void;
  playerQoe(point: PlayerQoePoint): void;
}

export interface RequestPoint {
  /** The route as the app declares it (`/v1/videos/{id}`, `/media/*`): never the path, which may carry a token. */
  route: string;
  method: string;
  status: number;
  durationMs: number;
  /** `X-Media-Cache` or `CF-Cache-Status` of the answer; empty where nothing is cached. */
  cacheStatus: string;
  colo: string;
}

export interface TranscodeTaskPoint {
  kind: string;
  outcome: "done" | "failed" | "stalled" | "handed-back";
  /** From the attempt's dispatch to its end. */
  seconds: number;
  attempt: number;
  instanceType: string;
}

export interface PlayerQoePoint {
  videoId: string;
  /** From the play to the first frame; only in a play's first report. */
  startupMs: number | undefined;
  playingMs: number;
  rebufferCount: number;
  rebufferMs: number;
  rungSwitches: number;
  heightPx: number | undefined;
  fatalError: string | undefined;
  colo: string;
  country: string;
}

/** Metrics that go nowhere: where the binding is absent. */
export const noMetrics: Metrics = { request: () => {}, transcodeTask: () => {}, playerQoe: () => {} };

/**
 * Metrics written to `dataset`, each datapoint naming the Worker `version` that wrote it (a gradual
 * deployment's two versions are compared side by side); without a dataset, `noMetrics`.
 *
 * @example
 * const metrics = createMetrics(env.METRICS, env.VERSION?.id);
 * metrics.request({ route: "/v1/home", method: "GET", status: 200, durationMs: 12, cacheStatus: "", colo: "AMS" });
 */
export function createMetrics(dataset: AnalyticsEngineDataset | undefined, version = ""): Metrics {
  if (!dataset) return noMetrics;
  const write = (event: string, index: string, blobs: string[], doubles: number[]) => {
    try {
      dataset.writeDataPoint({ indexes: [(index ? `${event}:${index}` : event).slice(0, 96)], blobs: [event, version, ...blobs], doubles });
    } catch {
      // A metric is never worth failing the request, the task or the beacon it describes.
    }
  };
  return {
    request: (point) =>
      write("request", point.route, [point.route, point.method, point.cacheStatus, point.colo], [point.status, point.durationMs]),
    transcodeTask: (point) =>
      write("transcode_task", point.kind, [point.kind, point.outcome, point.instanceType], [point.seconds, point.attempt]),
    playerQoe: (point) =>
      write(
        "player_qoe",
        "",
        [point.videoId, point.fatalError ?? "", point.colo, point.country],
        [point.startupMs ?? -1, point.playingMs, point.rebufferCount, point.rebufferMs, point.rungSwitches, point.heightPx ?? 0],
      ),
  };
}
