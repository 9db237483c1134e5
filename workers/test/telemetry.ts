import { env } from "cloudflare:workers";
import { onTestFinished, vi } from "vitest";

/** A datapoint as the Worker wrote it, its columns named as workers/platform/metrics.ts lays them out. */
export interface WrittenPoint {
  index: string;
  event: string;
  version: string;
  blobs: string[];
  doubles: number[];
}

/**
 * The Worker's Analytics Engine binding with every datapoint recorded and still written to it
 * (miniflare's dataset keeps none to read back). Pass `env` to a call (`call(path, { env })`).
 *
 * @example
 * const metrics = recordingMetrics();
 * await call("/v1/home", { token, env: metrics.env });
 * metrics.points("request"); // [{ event: "request", blobs: ["/v1/home", "GET", "", ""], doubles: [200, 3], … }]
 */
export function recordingMetrics() {
  const written: AnalyticsEngineDataPoint[] = [];
  const dataset: AnalyticsEngineDataset = {
    writeDataPoint(point) {
      written.push(structuredClone(point ?? {}));
      env.METRICS.writeDataPoint(point);
    },
  };
  return {
    env: { METRICS: dataset } as Partial<Env>,
    /** What was written, of one event kind (`request`, `transcode_task`, `player_qoe`), oldest first. */
    points(event: string): WrittenPoint[] {
      return written
        .map((point) => {
          const [kind = "", version = "", ...blobs] = (point.blobs ?? []).map(String);
          return { index: String(point.indexes?.[0] ?? ""), event: kind, version, blobs, doubles: (point.doubles ?? []).map(Number) };
        })
        .filter((point) => point.event === event);
    },
  };
}

/**
 * Every line written to the console from now until the test ends (the logger's sink writes there;
 * so would anything else), and still shown.
 */
export function captureConsole(): string[] {
  const lines: string[] = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
      original(...args);
    });
    onTestFinished(() => spy.mockRestore());
  }
  return lines;
}
