import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../platform/config.ts";
import { signMediaToken } from "../platform/media-token.ts";
import { problemOf } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { mediaBase, objectBytes, pathOf, play, readyVideo, subscribedViewer } from "./test/fixtures.ts";

async function playing(plan: "basic" | "standard" | "premium" = "standard") {
  const viewer = await subscribedViewer(plan);
  const video = await readyVideo();
  const playback = await play(viewer, video.id);
  return { viewer, video, playback, base: mediaBase(playback.manifestUrl) };
}

function bytesOf(videoId: string, path: string) {
  return objectBytes(`videos/${videoId}/${path}`);
}

describe("GET /media/{videoId}/{token}/…: playlists", () => {
  it("rewrites the master per viewer: basic (480p) sees no 720p or 1080p variant", async () => {
    const { playback, base } = await playing("basic");
    expect(playback.maxHeight).toBe(480);
    const response = await call(pathOf(playback.manifestUrl));
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/vnd.apple.mpegurl");
    expect(response.headers.get("Cache-Control")).toMatch(/^private, max-age=\d+$/);
    const master = await response.text();
    expect(master).toContain("240p/index.m3u8");
    expect(master).toContain("480p/index.m3u8");
    expect(master).not.toMatch(/720|1080/);
    expect(master).toContain('URI="audio/index.m3u8"');
    // Guessing a taller rendition's names does not help.
    expect((await call(`${base}hls/1080p/index.m3u8`)).status).toBe(403);
    expect((await call(`${base}hls/720p/seg_00001.m4s`)).status).toBe(403);
    expect((await call(`${base}hls/480p/seg_00001.m4s`)).status).toBe(200);
  });

  it("standard (1080p) sees the whole ladder, and media playlists keep relative URIs under the token", async () => {
    const { playback, base } = await playing("standard");
    const master = await (await call(pathOf(playback.manifestUrl))).text();
    expect(master).toContain("1080p/index.m3u8");
    const media = await call(`${base}hls/1080p/index.m3u8`);
    expect(media.status).toBe(200);
    const text = await media.text();
    expect(text).toContain('#EXT-X-MAP:URI="init.mp4"');
    // Every URI resolves below /media/{id}/{token}/, so it carries the token to init and segments.
    const resolved = new URL("init.mp4", `http://x${base}hls/1080p/index.m3u8`).pathname;
    expect(resolved.startsWith(base)).toBe(true);
    expect((await call(resolved)).status).toBe(200);
  });
});

describe("GET /media/{videoId}/{token}/…: signatures", () => {
  it("answers 403 problem+json for a missing, forged, expired, other-video or unknown-kid token", async () => {
    const { video, playback, base } = await playing();
    const token = base.split("/")[3] ?? "";
    const path = "hls/480p/seg_00000.m4s";

    const missing = await call(`/media/${video.id}/${path}`);
    expect(missing.status).toBe(403);
    expect((await problemOf(missing)).detail).toMatch(/no signature/);
    expect(missing.headers.get("Access-Control-Allow-Origin")).toBe("*");

    const forged = token.replace(/\.(\d+)\./, (_, exp: string) => `.${Number(exp) + 3600}.`);
    const forgedResponse = await call(`/media/${video.id}/${forged}/${path}`);
    expect(forgedResponse.status).toBe(403);
    expect((await problemOf(forgedResponse)).detail).toMatch(/does not match/);

    const taller = token.replace(/\.1080\./, ".2160.");
    expect((await call(`/media/${video.id}/${taller}/${path}`)).status).toBe(403);

    const other = await readyVideo();
    const otherVideo = await call(`/media/${other.id}/${token}/${path}`);
    expect(otherVideo.status).toBe(403);
    expect((await problemOf(otherVideo)).detail).toMatch(/another video/);

    const config = await loadConfig(env);
    const [userId, sessionId] = token.split(".").slice(4, 6) as [string, string];
    const grant = { videoId: video.id, userId, sessionId, maxHeight: 1080 };
    const expired = await signMediaToken(config, { ...grant, expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const expiredResponse = await call(`/media/${video.id}/${expired}/${path}`);
    expect(expiredResponse.status).toBe(403);
    expect((await problemOf(expiredResponse)).detail).toMatch(/expired/);

    // Rotation: a token of the previous key (second in MEDIA_SIGNING_KEYS) still verifies.
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    const oldKey = { mediaSigningKeys: config.mediaSigningKeys.slice(1) };
    expect((await call(`/media/${video.id}/${await signMediaToken(oldKey, { ...grant, expiresAt })}/${path}`)).status).toBe(200);
    // A key that has been dropped does not.
    const dropped = await crypto.subtle.importKey(
      "raw",
      crypto.getRandomValues(new Uint8Array(32)),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const droppedToken = await signMediaToken({ mediaSigningKeys: [{ kid: "media-gone", key: dropped }] }, { ...grant, expiresAt });
    const unknownKid = await call(`/media/${video.id}/${droppedToken}/${path}`);
    expect(unknownKid.status).toBe(403);
    expect((await problemOf(unknownKid)).detail).toMatch(/no longer accepted/);
    // Same kid as the current key, different secret: a forgery.
    const impostor = await signMediaToken({ mediaSigningKeys: [{ kid: "media-new", key: dropped }] }, { ...grant, expiresAt });
    expect((await call(`/media/${video.id}/${impostor}/${path}`)).status).toBe(403);

    expect((await call(pathOf(playback.manifestUrl))).status).toBe(200);
  });

  it("checks posters and storyboards too; the catalog's preview URLs open previews only", async () => {
    const { video, base } = await playing();
    expect((await call(`/media/${video.id}/poster.jpg`)).status).toBe(403);
    const poster = await call(`${base}poster.jpg`);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("Content-Type")).toBe("image/jpeg");
    const vtt = await call(`${base}storyboard.vtt`);
    expect(vtt.headers.get("Content-Type")).toBe("text/vtt; charset=utf-8");
    expect(await vtt.text()).toContain("storyboard.jpg#xywh=0,0,160,90");
    expect((await call(`${base}storyboard.jpg`)).status).toBe(200);

    // A viewer without a plan browses: the catalog's poster and storyboard URLs are signed previews.
    const browser = await signUp();
    const document = (await (await call(`/v1/videos/${video.id}`, { token: browser.accessToken })).json()) as {
      video: { posterUrl: string; thumbnailsUrl: string };
    };
    const posterPath = new URL(document.video.posterUrl).pathname;
    expect(posterPath).toMatch(new RegExp(`^/media/${video.id}/v1\\.[^/]+/poster\\.jpg$`));
    expect((await call(posterPath)).status).toBe(200);
    const thumbnails = await call(new URL(document.video.thumbnailsUrl).pathname);
    expect(thumbnails.status).toBe(200);
    expect(await thumbnails.text()).toContain("storyboard.jpg#xywh=");
    expect((await call(posterPath.replace("poster.jpg", "storyboard.jpg"))).status).toBe(200);
    // …and nothing else: no playlist, no segment, no other video.
    for (const path of ["hls/master.m3u8", "hls/240p/index.m3u8"]) {
      const refused = await call(posterPath.replace("poster.jpg", path));
      expect(refused.status, path).toBe(403);
      expect((await problemOf(refused)).detail).toMatch(/only opens the video's poster and storyboard/);
    }
    // The transcoder writes its poster and storyboard next to the ladder (`hls/`): previews too.
    await env.MEDIA.put(`videos/${video.id}/hls/poster.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
    expect((await call(posterPath.replace("poster.jpg", "hls/poster.jpg"))).status).toBe(200);
    const other = await readyVideo();
    expect((await call(posterPath.replace(`/media/${video.id}/`, `/media/${other.id}/`))).status).toBe(403);
    // The transcoder writes its poster and storyboard next to the ladder (`hls/`): previews too.
    await env.MEDIA.put(`videos/${video.id}/hls/poster.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
    expect((await call(posterPath.replace("poster.jpg", "hls/poster.jpg"))).status).toBe(200);
  });

  it("stops playlists at once after sign-out", async () => {
    const { viewer, playback } = await playing();
    expect((await call(pathOf(playback.manifestUrl))).status).toBe(200);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    const refused = await call(pathOf(playback.manifestUrl));
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).detail).toMatch(/signed out/);
  });

  it("never serves the uploaded source or paths that climb out of the video", async () => {
    const { video, base } = await playing();
    await env.MEDIA.put(`videos/${video.id}/source.mp4`, "original upload");
    expect((await call(`${base}source.mp4`)).status).toBe(404);
    expect((await call(`${base}hls/%2e%2e/source.mp4`)).status).toBe(404);
    expect((await call(`${base}hls/480p/missing.m4s`)).status).toBe(404);
  });
});

describe("GET /media/…: delivery", () => {
  it("serves segments with type, immutable caching and ETag; the second request comes from the edge cache", async () => {
    const { video, base } = await playing();
    const path = "hls/720p/seg_00001.m4s";
    const first = await call(`${base}${path}`);
    expect(first.status).toBe(200);
    expect(first.headers.get("Content-Type")).toBe("video/iso.segment");
    expect(first.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(first.headers.get("X-Media-Cache")).toBe("MISS");
    const etag = first.headers.get("ETag");
    expect(etag).toBeTruthy();
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(bytesOf(video.id, path));

    const second = await call(`${base}${path}`);
    expect(second.headers.get("X-Media-Cache")).toBe("HIT");
    expect(second.headers.get("ETag")).toBe(etag);
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(bytesOf(video.id, path));

    const init = await call(`${base}hls/720p/init.mp4`);
    expect(init.headers.get("Content-Type")).toBe("video/mp4");

    const notModified = await call(`${base}${path}`, { headers: { "If-None-Match": etag ?? "" } });
    expect(notModified.status).toBe(304);
  });

  it("answers ranges with 206 and Content-Range, from R2 on a miss and from the cache on a hit", async () => {
    const { video, base } = await playing();
    const path = "hls/480p/seg_00002.m4s";
    const expected = bytesOf(video.id, path);
    const ranges: [string, number, number][] = [
      ["bytes=0-99", 0, 99],
      ["bytes=4000-", 4000, 4095],
      ["bytes=-16", 4080, 4095],
      ["bytes=100-99999", 100, 4095],
    ];
    for (const round of ["MISS", "HIT"]) {
      for (const [header, start, end] of ranges) {
        const response = await call(`${base}${path}`, { headers: { Range: header } });
        expect(response.status, `${round} ${header}`).toBe(206);
        expect(response.headers.get("Content-Range")).toBe(`bytes ${start}-${end}/4096`);
        expect(response.headers.get("Content-Length")).toBe(String(end - start + 1));
        expect(new Uint8Array(await response.arrayBuffer())).toEqual(expected.slice(start, end + 1));
      }
      if (round === "MISS") {
        // The range miss filled the cache with the whole object in the background.
        await expect.poll(async () => (await call(`${base}${path}`)).headers.get("X-Media-Cache")).toBe("HIT");
      }
    }
    const unsatisfiable = await call(`${base}${path}`, { headers: { Range: "bytes=4096-" } });
    expect(unsatisfiable.status, `hit ${unsatisfiable.headers.get("Content-Range")} ${unsatisfiable.headers.get("X-Media-Cache")}`).toBe(
      416,
    );
    expect(unsatisfiable.headers.get("Content-Range")).toBe("bytes */4096");
    const uncached = "hls/240p/seg_00002.m4s";
    const unsatisfiableMiss = await call(`${base}${uncached}`, { headers: { Range: "bytes=5000-6000" } });
    expect(unsatisfiableMiss.status, `miss ${unsatisfiableMiss.headers.get("Content-Range")}`).toBe(416);
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const { base } = await playing();
    for (const _ of [1, 2]) {
      const head = await call(`${base}hls/1080p/seg_00000.m4s`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("Content-Length")).toBe("4096");
      expect(head.headers.get("ETag")).toBeTruthy();
      expect((await head.arrayBuffer()).byteLength).toBe(0);
      await call(`${base}hls/1080p/seg_00000.m4s`);
    }
    const ranged = await call(`${base}hls/1080p/seg_00001.m4s`, { method: "HEAD", headers: { Range: "bytes=0-9" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("Content-Range")).toBe("bytes 0-9/4096");
  });

  it("speaks CORS: any origin, exposed range headers, and a preflight", async () => {
    const { base } = await playing();
    const response = await call(`${base}hls/480p/seg_00000.m4s`, { headers: { Origin: "https://player.example", Range: "bytes=0-1" } });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Expose-Headers")).toMatch(/Content-Range/);
    expect(response.headers.get("Access-Control-Expose-Headers")).toMatch(/ETag/);
    const preflight = await call(`${base}hls/480p/seg_00000.m4s`, {
      method: "OPTIONS",
      headers: { Origin: "https://player.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/Range/);
    expect(preflight.headers.get("Access-Control-Allow-Methods")).toMatch(/GET/);
  });
});
