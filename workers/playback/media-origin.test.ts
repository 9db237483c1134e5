import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mediaOriginRequest } from "../platform/media-edge.ts";
import { signUpAdmin } from "../test/catalog.ts";
import { call } from "../test/helpers.ts";
import { mediaBase, objectBytes, pathOf, play, readyVideo, subscribedViewer } from "../test/playback.ts";

/** A request as it reaches the Worker from data center `colo` (`request.cf.colo`). */
function from(colo: string): RequestInit {
  return { cf: { colo } } as RequestInit;
}

describe("MediaOrigin: what Workers Cache keeps in front of it", () => {
  it("answers segments, init segments and images whole, immutable for a year, tagged with their video", async () => {
    const video = await readyVideo();
    for (const path of ["hls/720p/seg_00001.m4s", "hls/720p/init.mp4", "poster.jpg"]) {
      const key = `videos/${video.id}/${path}`;
      const response = await exports.MediaOrigin.fetch(mediaOriginRequest(key));
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Cache-Control"), path).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("Cache-Tag"), path).toBe(`video-${video.id}`);
      expect(response.headers.get("ETag"), path).toBeTruthy();
      expect(new Uint8Array(await response.arrayBuffer()), path).toEqual(objectBytes(key, path === "poster.jpg" ? 2048 : 4096));
    }
  });

  it("keeps playlists and storyboard tracks 30 s per tier, so a copy outlives its object by 60 s at most", async () => {
    const video = await readyVideo();
    for (const path of ["hls/master.m3u8", "hls/480p/index.m3u8", "storyboard.vtt"]) {
      const response = await exports.MediaOrigin.fetch(mediaOriginRequest(`videos/${video.id}/${path}`));
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Cache-Control"), path).toBe("public, max-age=30");
      expect(response.headers.get("Cache-Tag"), path).toBe(`video-${video.id}`);
    }
  });

  it("keeps no answer for what is missing, and serves nothing outside a video's media", async () => {
    const video = await readyVideo();
    await env.MEDIA.put(`masters/${video.id}/upload-1`, "the uploaded source");
    for (const key of [
      `videos/${video.id}/hls/480p/seg_09999.m4s`,
      `masters/${video.id}/upload-1`,
      `videos/${video.id}/hls/../../masters/x`,
    ]) {
      const response = await exports.MediaOrigin.fetch(mediaOriginRequest(key));
      expect(response.status, key).toBe(404);
      expect(response.headers.get("Cache-Control"), key).toBe("no-store");
    }
  });

  it("answers the cache's revalidation with 304", async () => {
    const video = await readyVideo();
    const key = `videos/${video.id}/hls/480p/seg_00000.m4s`;
    const etag = (await exports.MediaOrigin.fetch(mediaOriginRequest(key))).headers.get("ETag") ?? "";
    const revalidated = await exports.MediaOrigin.fetch(mediaOriginRequest(key, new Headers({ "If-None-Match": etag })));
    expect(revalidated.status).toBe(304);
  });
});

describe("GET /media/…: through Workers Cache (tiered), behind the checks", () => {
  it("serves a second data center's miss from the copy the first one filled, not from R2", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo();
    const base = mediaBase((await play(viewer, video.id)).manifestUrl);
    const segment = `${base}hls/720p/seg_00002.m4s`;
    const first = await call(segment, from("FRA"));
    expect(first.status).toBe(200);
    expect(first.headers.get("X-Media-Cache")).toBe("MISS");
    // The object leaves R2: only a cache can still answer.
    await env.MEDIA.delete(`videos/${video.id}/hls/720p/seg_00002.m4s`);
    const elsewhere = await call(segment, from("SYD"));
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get("X-Media-Cache")).toBe("HIT");
    expect(new Uint8Array(await elsewhere.arrayBuffer())).toEqual(objectBytes(`videos/${video.id}/hls/720p/seg_00002.m4s`));
    // The data center's own Cache API (the path before) had no copy there.
    const before = await call(`${base}hls/720p/seg_00001.m4s`, { ...from("FRA"), env: { MEDIA_EDGE_CACHE: "cache-api" } });
    expect(before.status).toBe(200);
    await env.MEDIA.delete(`videos/${video.id}/hls/720p/seg_00001.m4s`);
    expect((await call(`${base}hls/720p/seg_00001.m4s`, { ...from("SYD"), env: { MEDIA_EDGE_CACHE: "cache-api" } })).status).toBe(404);
  });

  it("gives the viewer a private copy, without the cache's tag or status", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo();
    const base = mediaBase((await play(viewer, video.id)).manifestUrl);
    for (const _ of ["MISS", "HIT"]) {
      const response = await call(`${base}hls/480p/seg_00001.m4s`);
      expect(response.headers.get("Cache-Control")).toBe("private, max-age=31536000, immutable");
      expect(response.headers.get("Cache-Tag")).toBeNull();
      expect(response.headers.get("Cf-Cache-Status")).toBeNull();
    }
  });

  it("stops a deleted video at once in every data center: the delete purges its tag from both tiers", async () => {
    const admin = await signUpAdmin();
    const viewer = await subscribedViewer("premium");
    const video = await readyVideo();
    const playback = await play(viewer, video.id);
    const segment = `${mediaBase(playback.manifestUrl)}hls/720p/seg_00001.m4s`;
    for (const colo of ["FRA", "SYD"]) {
      await call(segment, from(colo));
      expect((await call(segment, from(colo))).headers.get("X-Media-Cache"), colo).toBe("HIT");
    }
    expect((await call(`/v1/admin/videos/${video.id}`, { method: "DELETE", token: admin.accessToken, ...from("FRA") })).status).toBe(204);
    for (const colo of ["FRA", "SYD", "GRU"]) {
      for (const path of [segment, pathOf(playback.manifestUrl)]) {
        expect((await call(path, from(colo))).status, `${colo} ${path}`).toBe(404);
      }
    }
  });
});
