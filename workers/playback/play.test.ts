import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { videos } from "../../schema/index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { advanceClock, call, clockNow, inOneRateWindow, signUp } from "../test/helpers.ts";
import { anotherSession, pathOf, play, readyVideo, STREAM_LEASE_MS, subscribedViewer } from "../test/playback.ts";
import { newVideoId } from "../videos/index.ts";

function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

describe("GET /v1/videos/{id}/play", () => {
  it("signs a manifest URL for this session and plan, starting at 0", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const before = clockNow();
    const playback = await play(viewer, video.id);
    expect(playback.maxHeight).toBe(1080);
    expect(playback.resumeAt).toBe(0);
    expect(pathOf(playback.manifestUrl)).toMatch(new RegExp(`^/media/${video.id}/v2\\.media-new\\.\\d+\\.1080\\.[^/]+/hls/master\\.m3u8$`));
    expect(Date.parse(playback.expiresAt)).toBeGreaterThan(before + 3_600_000);
    const master = await call(pathOf(playback.manifestUrl));
    expect(master.status).toBe(200);
  });

  it("answers 401 without a token, 404 for an unknown video, 402 without a plan, 409 for a video not ready", async () => {
    const video = await readyVideo();
    expect((await call(`/v1/videos/${video.id}/play`)).status).toBe(401);
    const viewer = await subscribedViewer("basic");
    const unknown = await call("/v1/videos/zzzzzzzzzzzzzzzzzzzz/play", { token: viewer.accessToken });
    expect(unknown.status).toBe(404);
    expect((await call("/v1/videos/not-an-id/play", { token: viewer.accessToken })).status).toBe(404);

    const unsubscribed = await signUp();
    const refused = await call(`/v1/videos/${video.id}/play`, { token: unsubscribed.accessToken });
    expect(refused.status).toBe(402);
    expect((await problemOf(refused)).detail).toMatch(/subscription/);

    const [pending] = await withDatabase((db) =>
      db
        .insert(videos)
        .values({
          id: newVideoId(),
          title: "Pending",
          summary: "s",
          releaseYear: 2024,
          state: "transcoding",
        })
        .returning(),
    );
    const conflict = await call(`/v1/videos/${pending?.id}/play`, { token: viewer.accessToken });
    expect(conflict.status).toBe(409);
    expect((await problemOf(conflict)).detail).toMatch(/transcoding/);
    await withDatabase((db) => db.delete(videos).where(eq(videos.id, pending?.id ?? "")));
  });

  it("caps concurrent sessions at the plan's screens (basic: 1) and says when one frees up", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    await play(viewer, video.id);
    const tv = await anotherSession(viewer);
    const refused = await call(`/v1/videos/${video.id}/play`, { token: tv.accessToken });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await problemOf(refused)).detail).toMatch(/1 screen at a time/);
  });

  it("moves a session's lease when it switches titles: one screen, not two", async () => {
    const viewer = await subscribedViewer("basic");
    const [first, second] = [await readyVideo(), await readyVideo()];
    await play(viewer, first.id);
    await play(viewer, second.id);
    await play(viewer, first.id);
    const leases = await viewerStateOf(viewer.user.id).listLeases();
    expect(leases).toHaveLength(1);
    expect(leases[0]?.videoId).toBe(first.id);
  });

  it("lets another device play once the first device's lease lapses without heartbeats", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    await play(viewer, video.id);
    const tv = await anotherSession(viewer);
    expect((await call(`/v1/videos/${video.id}/play`, { token: tv.accessToken })).status).toBe(429);
    // A heartbeat renews the lease: still refused.
    const heartbeat = await call(`/v1/videos/${video.id}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 3 },
    });
    expect(heartbeat.status).toBe(204);
    expect((await call(`/v1/videos/${video.id}/play`, { token: tv.accessToken })).status).toBe(429);
    // No heartbeat for a whole lease (STREAM_LEASE_SECONDS): the first device's screen is free.
    advanceClock(STREAM_LEASE_MS);
    await play(tv, video.id);
    expect((await call(`/v1/videos/${video.id}/play`, { token: viewer.accessToken })).status).toBe(429);
  });

  it("releases the lease at sign-out, so another device can play at once", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    await play(viewer, video.id);
    const phone = await anotherSession(viewer);
    expect((await call(`/v1/videos/${video.id}/play`, { token: phone.accessToken })).status).toBe(429);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    await play(phone, video.id);
  });

  it("gives standard two screens and refuses the third", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const second = await anotherSession(viewer);
    const third = await anotherSession(viewer);
    await play(viewer, video.id);
    await play(second, video.id);
    expect((await call(`/v1/videos/${video.id}/play`, { token: third.accessToken })).status).toBe(429);
  });

  it("answers HEAD with the checks of GET and changes nothing: no screen taken, no URL signed", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    const head = await call(`/v1/videos/${video.id}/play`, { method: "HEAD", token: viewer.accessToken });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(await viewerStateOf(viewer.user.id).listLeases()).toEqual([]);
    // The plan's one screen is still free: another device plays.
    const phone = await anotherSession(viewer);
    await play(phone, video.id);
    expect((await call(`/v1/videos/zzzzzzzzzzzzzzzzzzzz/play`, { method: "HEAD", token: viewer.accessToken })).status).toBe(404);
    const unsubscribed = await signUp();
    expect((await call(`/v1/videos/${video.id}/play`, { method: "HEAD", token: unsubscribed.accessToken })).status).toBe(402);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    expect((await call(`/v1/videos/${video.id}/play`, { method: "HEAD", token: viewer.accessToken })).status).toBe(401);
  });

  it("refuses more than 30 plays a minute on one account with 429 and Retry-After", async () => {
    const video = await readyVideo();
    await inOneRateWindow(60, async () => {
      const viewer = await subscribedViewer("premium");
      const responses = await Promise.all(
        Array.from({ length: 32 }, () => call(`/v1/videos/${video.id}/play`, { token: viewer.accessToken })),
      );
      expect(responses.filter((response) => response.status === 200)).toHaveLength(30);
      const refused = responses.filter((response) => response.status === 429);
      expect(refused).toHaveLength(2);
      for (const response of refused) expect(response.headers.get("Retry-After")).toBe("60");
    });
  });
});
