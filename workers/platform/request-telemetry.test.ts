import { describe, expect, it } from "vitest";
import { call } from "../test/helpers.ts";
import { mediaBase, pathOf, play, readyVideo, subscribedViewer } from "../test/playback.ts";
import { captureConsole, recordingMetrics } from "../test/telemetry.ts";

/** The `request` log lines among captured console lines, parsed. */
function requestLines(lines: string[]) {
  return lines.flatMap((line) => {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      return record.msg === "request" ? [record] : [];
    } catch {
      return [];
    }
  });
}

describe("request telemetry", () => {
  it("writes one datapoint per request: the route as declared, method, status, duration, cache status and colo", async () => {
    const metrics = recordingMetrics();
    expect((await call("/.well-known/jwks.json", { env: metrics.env })).status).toBe(200);
    expect((await call("/v1/videos/abcdefghij0123456789", { env: metrics.env })).status).toBe(401);
    expect((await call("/v1/nothing-here", { env: metrics.env })).status).toBe(404);
    expect((await call("/v1/auth/signin", { method: "POST", json: {}, env: metrics.env })).status).toBe(400);
    const points = metrics.points("request");
    expect(points.map((point) => [point.index, ...point.blobs.slice(0, 3), point.doubles[0]])).toEqual([
      ["request:/.well-known/jwks.json", "/.well-known/jwks.json", "GET", "", 200],
      ["request:/v1/videos/{id}", "/v1/videos/{id}", "GET", "", 401],
      ["request:(none)", "(none)", "GET", "", 404],
      ["request:/v1/auth/signin", "/v1/auth/signin", "POST", "", 400],
    ]);
    for (const point of points) {
      expect(point.doubles[1]).toBeGreaterThanOrEqual(0);
      expect(typeof point.blobs[3]).toBe("string"); // the colo (miniflare's placeholder cf object has one)
    }
  });

  it("names media requests by their route, never their path (it carries the token), with the edge cache's answer", async () => {
    const [viewer, video] = await Promise.all([subscribedViewer(), readyVideo()]);
    const { manifestUrl } = await play(viewer, video.id);
    const segment = `${mediaBase(manifestUrl)}hls/720p/seg_00000.m4s`;
    const metrics = recordingMetrics();
    expect((await call(pathOf(manifestUrl), { env: metrics.env })).status).toBe(200);
    expect((await call(segment, { env: metrics.env })).status).toBe(200);
    expect((await call(segment, { env: metrics.env })).status).toBe(200);
    const points = metrics.points("request");
    expect(points.map((point) => point.blobs.slice(0, 3))).toEqual([
      ["/media/*", "GET", ""],
      ["/media/*", "GET", "MISS"],
      ["/media/*", "GET", "HIT"],
    ]);
    const token = pathOf(manifestUrl).split("/")[3] ?? "";
    expect(JSON.stringify(points)).not.toContain(token);
  });

  it("logs a line for each answer that failed, with the token in a media path redacted, and none for one that succeeded", async () => {
    const [viewer, video] = await Promise.all([subscribedViewer(), readyVideo()]);
    const { manifestUrl } = await play(viewer, video.id);
    const token = pathOf(manifestUrl).split("/")[3] ?? "";
    const lines = captureConsole();
    expect((await call(pathOf(manifestUrl))).status).toBe(200);
    expect((await call(`${mediaBase(manifestUrl)}hls/720p/seg_99999.m4s`)).status).toBe(404);
    const logged = requestLines(lines);
    expect(logged).toEqual([
      expect.objectContaining({
        level: "info",
        route: "/media/*",
        method: "GET",
        status: 404,
        path: `/media/${video.id}/[redacted]/hls/720p/seg_99999.m4s`,
        requestId: expect.any(String),
      }),
    ]);
    expect(lines.join("\n")).not.toContain(token);
  });
});
