import { describe, expect, it } from "vitest";
import { problemOf } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { anotherSession, mediaBase, pathOf, play, readyVideo, subscribedViewer } from "../test/playback.ts";

const release = (videoId: string, body: unknown) =>
  call(`/v1/videos/${videoId}/play/release`, { method: "POST", json: body as Record<string, unknown> });

/**
 * Screens freed at once (issue 24): `POST /v1/videos/{id}/play/release` with the play's stream
 * token (what `navigator.sendBeacon` can send), and `POST /v1/videos/{id}/play`, "watch here
 * instead", which ends the account's stream that went longest without a heartbeat and tells it why.
 */
describe("POST /v1/videos/{id}/play/release", () => {
  it("frees the screen at once: a 1-screen account's other device plays with no wait, and the released stream stops", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    const phone = await anotherSession(viewer);
    const first = await play(viewer, video.id);
    expect((await call(`/v1/videos/${video.id}/play`, { token: phone.accessToken })).status).toBe(429);

    const released = await release(video.id, { streamToken: first.streamToken });
    expect(released.status).toBe(204);
    expect((await call(`/v1/videos/${video.id}/play`, { token: phone.accessToken })).status).toBe(200);
    const stopped = await call(pathOf(first.manifestUrl));
    expect(stopped.status).toBe(403);
    expect((await problemOf(stopped)).code).toBe("stream-ended");
    // Idempotent: the same release again changes nothing and still answers 204.
    expect((await release(video.id, { streamToken: first.streamToken })).status).toBe(204);
  });

  it("keeps a later play's lease: releasing an older stream of the same session frees nothing", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    const older = await play(viewer, video.id);
    const newer = await play(viewer, video.id);
    expect((await release(video.id, { streamToken: older.streamToken })).status).toBe(204);
    expect((await call(pathOf(newer.manifestUrl))).status).toBe(200);
  });

  it("keeps the player's bandwidth estimate as the session's hint for its next play", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const first = await play(viewer, video.id);
    expect(first.bandwidthEstimate).toBeNull();
    expect((await release(video.id, { streamToken: first.streamToken, bandwidthEstimate: 3_456_789 })).status).toBe(204);
    expect((await play(viewer, video.id)).bandwidthEstimate).toBe(3_456_789);
    // Per device: another session of the account starts without it.
    expect((await play(await anotherSession(viewer), video.id)).bandwidthEstimate).toBeNull();
  });

  it("refuses a token that is not this video's stream, a preview token and a bad body, and frees nothing", async () => {
    const viewer = await subscribedViewer("basic");
    const [video, other] = [await readyVideo(), await readyVideo()];
    const playing = await play(viewer, video.id);
    const wrongVideo = await release(other.id, { streamToken: playing.streamToken });
    expect(wrongVideo.status).toBe(403);
    // The signature's first character: its last carries 2 unused bits (43 base64url characters for 32 bytes), so changing it
    // between A, B, C and D decodes to the same signature and verifies (a 1-in-16 failure of this test before).
    const signatureAt = playing.streamToken.lastIndexOf(".") + 1;
    const tampered = `${playing.streamToken.slice(0, signatureAt)}${playing.streamToken[signatureAt] === "A" ? "B" : "A"}${playing.streamToken.slice(signatureAt + 1)}`;
    expect((await release(video.id, { streamToken: tampered })).status).toBe(403);
    const posterToken = mediaBase(
      ((await (await call(`/v1/videos/${video.id}`, { token: viewer.accessToken })).json()) as { video: { posterUrl: string } }).video
        .posterUrl,
    );
    expect((await release(video.id, { streamToken: posterToken.split("/")[3] })).status).toBe(403);
    const invalid = await release(video.id, { streamToken: playing.streamToken, bandwidthEstimate: "fast" });
    expect(invalid.status).toBe(400);
    expect((await problemOf(invalid)).errors?.[0]?.path).toBe("bandwidthEstimate");
    expect((await call(pathOf(playing.manifestUrl))).status).toBe(200);
  });
});

describe("POST /v1/videos/{id}/play (watch here instead)", () => {
  it("ends the oldest other stream when every screen is in use; that stream's playlists, segments and heartbeats say why", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    const tv = await play(viewer, video.id);
    const phone = await anotherSession(viewer);
    expect((await call(`/v1/videos/${video.id}/play`, { token: phone.accessToken })).status).toBe(429);

    const here = await call(`/v1/videos/${video.id}/play`, { method: "POST", token: phone.accessToken });
    expect(here.status).toBe(200);
    expect((await call(pathOf(((await here.json()) as { manifestUrl: string }).manifestUrl))).status).toBe(200);

    const playlist = await call(pathOf(tv.manifestUrl));
    expect(playlist.status).toBe(403);
    expect((await problemOf(playlist)).code).toBe("stream-taken-over");
    const segment = await call(`${mediaBase(tv.manifestUrl)}hls/240p/seg_00000.m4s`);
    expect((await problemOf(segment)).code).toBe("stream-taken-over");
    const heartbeat = await call(`/v1/videos/${video.id}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 7 },
    });
    expect(heartbeat.status).toBe(403);
    expect((await problemOf(heartbeat)).code).toBe("stream-taken-over");
    // The position of that last heartbeat is kept all the same.
    const stored = await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken });
    expect(((await stored.json()) as { positionSeconds: number }).positionSeconds).toBe(7);

    // Playing again on the first device takes the screen back (and ends the phone's stream in turn).
    expect((await call(`/v1/videos/${video.id}/play`, { method: "POST", token: viewer.accessToken })).status).toBe(200);
    expect(
      (await call(`/v1/videos/${video.id}/progress`, { method: "PUT", token: viewer.accessToken, json: { positionSeconds: 8 } })).status,
    ).toBe(204);
  });

  it("takes nothing from anyone while a screen is free, and keeps the refusals of GET (402, 404)", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const tv = await play(viewer, video.id);
    const phone = await anotherSession(viewer);
    expect((await call(`/v1/videos/${video.id}/play`, { method: "POST", token: phone.accessToken })).status).toBe(200);
    expect((await call(pathOf(tv.manifestUrl))).status).toBe(200);
    expect((await call("/v1/videos/zzzzzzzzzzzzzzzzzzzz/play", { method: "POST", token: phone.accessToken })).status).toBe(404);
    const unsubscribed = await signUp();
    expect((await call(`/v1/videos/${video.id}/play`, { method: "POST", token: unsubscribed.accessToken })).status).toBe(402);
  });
});

describe("GET /v1/progress", () => {
  it("lists the unfinished titles with their positions, most recent first, and not finished ones", async () => {
    const viewer = await subscribedViewer("standard");
    const [first, second, done] = [await readyVideo(100), await readyVideo(100), await readyVideo(100)];
    for (const [video, positionSeconds] of [
      [first, 10],
      [second, 40],
      [done, 99.5],
    ] as const) {
      const put = await call(`/v1/videos/${video.id}/progress`, { method: "PUT", token: viewer.accessToken, json: { positionSeconds } });
      expect(put.status).toBe(204);
    }
    const response = await call("/v1/progress", { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const { items } = (await response.json()) as { items: { videoId: string; positionSeconds: number; durationSeconds: number }[] };
    expect(items.map((item) => [item.videoId, item.positionSeconds, item.durationSeconds])).toEqual([
      [second.id, 40, 100],
      [first.id, 10, 100],
    ]);
  });
});
