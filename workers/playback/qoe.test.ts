import { describe, expect, it } from "vitest";
import { problemOf } from "../test/catalog.ts";
import { advanceClock, call, inOneRateWindow } from "../test/helpers.ts";
import { play, readyVideo, subscribedViewer } from "../test/playback.ts";
import { recordingMetrics } from "../test/telemetry.ts";

/** What a player sends after ten seconds of playing (web/src/player/qoe.ts). */
function beacon(manifestUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    manifestUrl,
    startupMs: 850,
    playingMs: 10_000,
    rebufferCount: 1,
    rebufferMs: 420,
    rungSwitches: 2,
    heightPx: 720,
    ...overrides,
  };
}

async function aPlay() {
  const [viewer, video] = await Promise.all([subscribedViewer(), readyVideo()]);
  return { viewer, video, ...(await play(viewer, video.id)) };
}

describe("POST /v1/qoe", () => {
  it("records a player's beacon as a datapoint of its title, with no Authorization header (sendBeacon cannot send one)", async () => {
    const { video, manifestUrl } = await aPlay();
    const metrics = recordingMetrics();
    const response = await call("/v1/qoe", { method: "POST", json: beacon(manifestUrl), env: metrics.env });
    expect(response.status).toBe(204);
    expect(metrics.points("player_qoe")).toEqual([
      expect.objectContaining({
        index: "player_qoe",
        blobs: [video.id, "", expect.any(String), expect.any(String)],
        doubles: [850, 10_000, 1, 420, 2, 720],
      }),
    ]);
    // A later beacon has no startup time, and may say why playback stopped.
    await call("/v1/qoe", { method: "POST", json: beacon(manifestUrl, { startupMs: undefined, fatalError: "network" }), env: metrics.env });
    expect(metrics.points("player_qoe")[1]).toMatchObject({ blobs: [video.id, "network", expect.any(String), expect.any(String)] });
    expect(metrics.points("player_qoe")[1]?.doubles[0]).toBe(-1);
  });

  it("refuses a beacon that is not one, naming each bad field, and records nothing", async () => {
    const { manifestUrl } = await aPlay();
    const metrics = recordingMetrics();
    const response = await call("/v1/qoe", {
      method: "POST",
      json: beacon(manifestUrl, { rebufferCount: -1, playingMs: "ten", fatalError: "EXT-X-BOOM", extra: 1 }),
      env: metrics.env,
    });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.errors?.map((error) => error.path).sort()).toEqual(["(body)", "fatalError", "playingMs", "rebufferCount"]);
    expect(metrics.points("player_qoe")).toEqual([]);
  });

  it("refuses a body over 4 KiB with 413 before reading it", async () => {
    const { manifestUrl } = await aPlay();
    const response = await call("/v1/qoe", { method: "POST", json: beacon(manifestUrl, { padding: "x".repeat(5000) }) });
    expect(response.status).toBe(413);
  });

  it("refuses a beacon without a play's signed URL: none, forged, another title's, a preview's, or expired", async () => {
    const { video, manifestUrl } = await aPlay();
    const other = await readyVideo();
    const forged = manifestUrl.replace(/\.([A-Za-z0-9_-]{43})\//, (_, signature: string) => `.${signature.slice(0, -2)}AA/`);
    const preview = (await (await call(`/v1/videos/${video.id}`, { token: (await subscribedViewer()).accessToken })).json()) as {
      video: { posterUrl: string };
    };
    for (const url of [
      "not a url",
      "https://elsewhere.test/v1/videos",
      forged,
      manifestUrl.replace(video.id, other.id),
      preview.video.posterUrl,
    ]) {
      const response = await call("/v1/qoe", { method: "POST", json: beacon(url) });
      expect(response.status, url).toBe(403);
    }
    advanceClock(5 * 86_400_000);
    expect((await call("/v1/qoe", { method: "POST", json: beacon(manifestUrl) })).status).toBe(403);
  });

  it("throttles beacons per account: 30 a minute, then 429 with Retry-After, while another account goes on", async () => {
    await inOneRateWindow(60, async () => {
      // Accounts of this attempt's own: calls of an attempt a window boundary fell into count in
      // the next window too, and must not count against the attempt run again.
      const [first, second] = await Promise.all([aPlay(), aPlay()]);
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) statuses.push((await call("/v1/qoe", { method: "POST", json: beacon(first.manifestUrl) })).status);
      expect(statuses.slice(0, 30).every((status) => status === 204)).toBe(true);
      expect(statuses[30]).toBe(429);
      const refused = await call("/v1/qoe", { method: "POST", json: beacon(first.manifestUrl) });
      expect(refused.headers.get("Retry-After")).toBe("60");
      expect((await call("/v1/qoe", { method: "POST", json: beacon(second.manifestUrl) })).status).toBe(204);
    });
  });
});
