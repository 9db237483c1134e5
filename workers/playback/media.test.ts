import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REFRESH_GRACE_MS } from "../../durable-objects/viewer-state/sessions.ts";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { loadConfig } from "../platform/config.ts";
import { signMediaToken } from "../platform/media-token.ts";
import { revocationLifetimeSeconds } from "../platform/session-revocation.ts";
import { problemOf, signUpAdmin } from "../test/catalog.ts";
import { advanceClock, call, clockNow, signUp } from "../test/helpers.ts";
import { anotherSession, mediaBase, objectBytes, pathOf, play, readyVideo, STREAM_LEASE_MS, subscribedViewer } from "../test/playback.ts";
import { SEGMENT_STREAM_CHECK_SECONDS } from "./stream-check.ts";

async function playing(plan: "basic" | "standard" | "premium" = "standard") {
  const viewer = await subscribedViewer(plan);
  const video = await readyVideo();
  const playback = await play(viewer, video.id);
  return { viewer, video, playback, base: mediaBase(playback.manifestUrl) };
}

/** `ms` go by, and the object's alarm (the purge of forgotten revocations) runs. */
async function afterAlarm(stub: DurableObjectStub<ViewerState>, ms: number) {
  advanceClock(ms);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
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

    // One signature, one spelling: the last character's 2 unused bits set make the same bytes.
    const sibling = token.slice(0, -1) + String.fromCharCode(token.charCodeAt(token.length - 1) + 1);
    expect((await call(`/media/${video.id}/${sibling}/${path}`)).status).toBe(403);

    const taller = token.replace(/\.1080\./, ".2160.");
    expect((await call(`/media/${video.id}/${taller}/${path}`)).status).toBe(403);

    const other = await readyVideo();
    const otherVideo = await call(`/media/${other.id}/${token}/${path}`);
    expect(otherVideo.status).toBe(403);
    expect((await problemOf(otherVideo)).detail).toMatch(/another video/);

    const config = await loadConfig(env);
    const [userId, sessionId, leaseId] = token.split(".").slice(4, 7) as [string, string, string];
    const grant = { videoId: video.id, userId, sessionId, leaseId, maxHeight: 1080 };
    const expired = await signMediaToken(config, { ...grant, expiresAt: Math.floor(clockNow() / 1000) - 1 });
    const expiredResponse = await call(`/media/${video.id}/${expired}/${path}`);
    expect(expiredResponse.status).toBe(403);
    expect((await problemOf(expiredResponse)).detail).toMatch(/expired/);

    // Rotation: a token of the previous key (second in MEDIA_SIGNING_KEYS) still verifies.
    const expiresAt = Math.floor(clockNow() / 1000) + 600;
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
    expect(posterPath).toMatch(new RegExp(`^/media/${video.id}/v2\\.[^/]+/poster\\.jpg$`));
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

  it.each(["signout", "refresh-reuse"] as const)(
    "keeps the session's media URLs refused after %s until they expire by themselves (short TTLs set in config)",
    async (how) => {
      // Access tokens of 30 s, media URLs of 10 min: the revocation must outlive the URLs, not the tokens.
      const short = { env: { ACCESS_TOKEN_TTL_SECONDS: "30", MEDIA_TOKEN_TTL_SECONDS: "600" } };
      const viewer = await subscribedViewer();
      const video = await readyVideo();
      const answer = await call(`/v1/videos/${video.id}/play`, { token: viewer.accessToken, ...short });
      expect(answer.status).toBe(200);
      const playback = (await answer.json()) as { manifestUrl: string; expiresAt: string };
      expect(Date.parse(playback.expiresAt) - clockNow()).toBeGreaterThan(590_000);
      const master = pathOf(playback.manifestUrl);
      const segment = `${mediaBase(playback.manifestUrl)}hls/240p/seg_00001.m4s`;
      expect((await call(master)).status).toBe(200);
      if (how === "signout") {
        expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken, ...short })).status).toBe(204);
      } else {
        const refresh = () => call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken }, ...short });
        expect((await refresh()).status).toBe(200);
        advanceClock(REFRESH_GRACE_MS);
        expect((await refresh()).status).toBe(401);
      }
      expect((await call(master)).status).toBe(403);
      const stub = viewerStateOf(viewer.user.id);
      // The access tokens' life and its minute of slack go by (30 + 60 s): a revocation bound to them would be forgotten now.
      await afterAlarm(stub, 91_000);
      expect((await call(master)).status).toBe(403);
      expect((await call(segment)).status).toBe(403);
      // Past the media URL's own expiry and the slack (600 + 60 s), nothing is kept that no credential needs.
      await afterAlarm(stub, 600_000);
      expect(
        await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT * FROM revoked_sessions").toArray()),
      ).toEqual([]);
    },
  );

  it("never serves the uploaded source or paths that climb out of the video", async () => {
    const { video, base } = await playing();
    await env.MEDIA.put(`videos/${video.id}/source.mp4`, "original upload");
    expect((await call(`${base}source.mp4`)).status).toBe(404);
    expect((await call(`${base}hls/%2e%2e/source.mp4`)).status).toBe(404);
    expect((await call(`${base}hls/480p/missing.m4s`)).status).toBe(404);
  });
});

function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

describe("GET /media/…: the plan's screens hold beyond play", () => {
  it("refuses the media of sessions whose lease lapsed and went to another session (basic plan, three devices)", async () => {
    const first = await subscribedViewer("basic");
    const video = await readyVideo();
    const [second, third] = [await anotherSession(first), await anotherSession(first)];
    const bases: string[] = [];
    for (const device of [first, second]) {
      bases.push(mediaBase((await play(device, video.id)).manifestUrl));
      // No heartbeat for a whole lease: the screen is free.
      advanceClock(STREAM_LEASE_MS);
    }
    bases.push(mediaBase((await play(third, video.id)).manifestUrl));
    // All three stream at once: only the one that holds the screen is served.
    const statuses = await Promise.all(bases.map(async (base) => (await call(`${base}hls/480p/seg_00000.m4s`)).status));
    expect(statuses).toEqual([403, 403, 200]);
    const refused = await call(`${bases[0]}hls/480p/seg_00001.m4s`);
    expect((await problemOf(refused)).detail).toMatch(/screen was released.*Press play again/);
    expect(refused.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("stops the first title's URLs when a session switches titles (one screen, one stream)", async () => {
    const viewer = await subscribedViewer("standard");
    const [first, second] = [await readyVideo(), await readyVideo()];
    const firstPlay = await play(viewer, first.id);
    const secondBase = mediaBase((await play(viewer, second.id)).manifestUrl);
    const playlist = await call(pathOf(firstPlay.manifestUrl));
    expect(playlist.status).toBe(403);
    expect((await problemOf(playlist)).detail).toMatch(/started playing something else/);
    expect((await call(`${mediaBase(firstPlay.manifestUrl)}hls/480p/seg_00000.m4s`)).status).toBe(403);
    expect((await call(`${secondBase}hls/480p/seg_00000.m4s`)).status).toBe(200);
  });

  it("never interrupts a viewer whose heartbeats keep the lease, while the screen stays taken", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    const playback = await play(viewer, video.id);
    const base = mediaBase(playback.manifestUrl);
    const phone = await anotherSession(viewer);
    let left = STREAM_LEASE_MS;
    for (let round = 0; round < 3; round++) {
      // The lease is about to lapse (5 s left); a heartbeat arrives in time and renews it.
      advanceClock(left - 5_000);
      const heartbeat = await call(`/v1/videos/${video.id}/progress`, {
        method: "PUT",
        token: viewer.accessToken,
        json: { positionSeconds: round },
      });
      expect(heartbeat.status).toBe(204);
      // Past the moment the lease would have lapsed without that heartbeat.
      advanceClock(10_000);
      left = STREAM_LEASE_MS - 10_000;
      expect((await call(pathOf(playback.manifestUrl))).status).toBe(200);
      expect((await call(`${base}hls/480p/seg_0000${round}.m4s`)).status).toBe(200);
      expect((await call(`/v1/videos/${video.id}/play`, { token: phone.accessToken })).status).toBe(429);
    }
  });

  it("ends the streams of a plan downgrade: URLs signed for the taller plan stop, play again gives the new cap", async () => {
    const { viewer, video, playback, base } = await playing("premium");
    expect((await call(`${base}hls/1080p/index.m3u8`)).status).toBe(200);
    const downgrade = await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "basic" } });
    expect(downgrade.status).toBe(200);
    const refused = await call(pathOf(playback.manifestUrl));
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).detail).toMatch(/the plan changed/);
    expect((await call(`${base}hls/1080p/seg_00002.m4s`)).status).toBe(403);
    const again = await play(viewer, video.id);
    expect(again.maxHeight).toBe(480);
    expect((await call(`${mediaBase(again.manifestUrl)}hls/1080p/seg_00002.m4s`)).status).toBe(403);
    expect((await call(`${mediaBase(again.manifestUrl)}hls/480p/seg_00002.m4s`)).status).toBe(200);
    // The old URL does not come back with the new play.
    expect((await call(pathOf(playback.manifestUrl))).status).toBe(403);
  });

  it("leaves playback alone on an upgrade", async () => {
    const { viewer, playback } = await playing("basic");
    expect((await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "premium" } })).status).toBe(200);
    expect((await call(pathOf(playback.manifestUrl))).status).toBe(200);
  });

  it("stops a signed-out session's stream for good, playlists at once", async () => {
    const { viewer, video, playback, base } = await playing();
    expect((await call(`${base}hls/480p/seg_00000.m4s`)).status).toBe(200);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    expect((await call(pathOf(playback.manifestUrl))).status).toBe(403);
    // The revocation is forgotten once every credential of the session has expired (the object's
    // alarm purges it); a URL of that stream that still verified then finds its lease released.
    const stub = viewerStateOf(viewer.user.id);
    await afterAlarm(stub, revocationLifetimeSeconds(await loadConfig(env)) * 1000);
    const [userId, sessionId, leaseId] = (base.split("/")[3] ?? "").split(".").slice(4, 7) as [string, string, string];
    expect(await stub.isSessionRevoked(sessionId)).toBe(false);
    const late = await signMediaToken(await loadConfig(env), {
      videoId: video.id,
      userId,
      sessionId,
      leaseId,
      maxHeight: 1080,
      expiresAt: Math.floor(clockNow() / 1000) + 600,
    });
    const refused = await call(`/media/${video.id}/${late}/hls/master.m3u8`);
    expect(refused.status).toBe(403);
    expect((await problemOf(refused)).detail).toMatch(/screen was released/);
  });
});

describe("GET /media/…: revocation stands in front of the edge cache", () => {
  // The guarantee: a signed-out or lapsed session's segment requests are refused within 60 s.
  it("refuses a signed-out session's segments, those in the edge cache too, within 20 s of the sign-out", async () => {
    expect(SEGMENT_STREAM_CHECK_SECONDS).toBeLessThanOrEqual(60);
    const { viewer, base } = await playing();
    const cached = `${base}hls/480p/seg_00000.m4s`;
    expect((await call(cached)).status).toBe(200);
    expect((await call(cached)).headers.get("X-Media-Cache")).toBe("HIT");
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    advanceClock(SEGMENT_STREAM_CHECK_SECONDS * 1000);
    for (const path of [cached, `${base}hls/480p/seg_00001.m4s`, `${base}hls/audio/seg_00000.m4s`]) {
      const refused = await call(path);
      expect(refused.status, path).toBe(403);
      expect((await problemOf(refused)).detail).toMatch(/signed out/);
    }
  });

  it("refuses a lapsed lease's segments, those in the edge cache too, once the lease has run out", async () => {
    const { base } = await playing();
    const cached = `${base}hls/480p/seg_00002.m4s`;
    expect((await call(cached)).status).toBe(200);
    expect((await call(cached)).headers.get("X-Media-Cache")).toBe("HIT");
    // No heartbeat for a whole lease (STREAM_LEASE_SECONDS), which is well within 60 s.
    expect(STREAM_LEASE_MS).toBeLessThanOrEqual(60_000);
    advanceClock(STREAM_LEASE_MS);
    for (const path of [cached, `${base}hls/480p/seg_00001.m4s`]) {
      const refused = await call(path);
      expect(refused.status, path).toBe(403);
      expect((await problemOf(refused)).detail).toMatch(/screen was released/);
    }
  });

  it("keeps playlists per viewer and private: rewritten for each token, kept by the browser as long as the URL lives", async () => {
    const [basic, standard] = [await playing("basic"), await playing("standard")];
    const masters: string[] = [];
    for (const { playback, base } of [basic, standard]) {
      for (const path of [pathOf(playback.manifestUrl), `${base}hls/480p/index.m3u8`]) {
        const response = await call(path);
        expect(response.status, path).toBe(200);
        const maxAge = Number(/^private, max-age=(\d+)$/.exec(response.headers.get("Cache-Control") ?? "")?.[1]);
        expect(maxAge, path).toBe(Math.ceil((Date.parse(playback.expiresAt) - clockNow()) / 1000));
        expect(response.headers.get("Cache-Tag"), path).toBeNull();
        if (path.endsWith("master.m3u8")) masters.push(await response.text());
      }
    }
    expect(masters[0]).not.toEqual(masters[1]);
    expect(masters[0]).not.toContain("1080p");
  });
});

describe("GET /media/…: a video that is gone, and the plan cap, fail closed", () => {
  it("stops a deleted video at once at this data center: cached segments, playlists and previews answer 404", async () => {
    const admin = await signUpAdmin();
    const { video, playback, base } = await playing("premium");
    const basic = await play(await subscribedViewer("basic"), video.id);
    const segment = `${base}hls/720p/seg_00001.m4s`;
    expect((await call(segment)).headers.get("X-Media-Cache")).toBe("MISS");
    expect((await call(segment)).headers.get("X-Media-Cache")).toBe("HIT");
    const browser = await signUp();
    const document = (await (await call(`/v1/videos/${video.id}`, { token: browser.accessToken })).json()) as {
      video: { posterUrl: string };
    };
    const poster = new URL(document.video.posterUrl).pathname;
    expect((await call(poster)).status).toBe(200);
    expect((await call(`/v1/admin/videos/${video.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);

    for (const path of [segment, pathOf(playback.manifestUrl), `${base}hls/720p/index.m3u8`, `${base}hls/480p/seg_00000.m4s`, poster]) {
      const gone = await call(path);
      expect(gone.status, path).toBe(404);
      expect((await problemOf(gone)).detail).toMatch(/not available any more/);
    }
    // The plan cap cannot fail open either: a 480p token gets nothing taller from the cache.
    expect((await call(`${mediaBase(basic.manifestUrl)}hls/720p/seg_00001.m4s`)).status).toBe(404);
  });

  it("serves nothing, of any height, while the master playlist is missing (the cap has nothing to compare with)", async () => {
    const video = await readyVideo();
    const basic = mediaBase((await play(await subscribedViewer("basic"), video.id)).manifestUrl);
    await env.MEDIA.delete(`videos/${video.id}/hls/master.m3u8`);
    for (const path of ["hls/720p/seg_00000.m4s", "hls/1080p/index.m3u8", "hls/480p/seg_00000.m4s"]) {
      expect((await call(`${basic}${path}`)).status, path).toBe(404);
    }
  });

  it("serves no folder the master does not name, whatever the plan", async () => {
    const { video, base } = await playing("premium");
    await env.MEDIA.put(`videos/${video.id}/hls/2160p/seg_00000.m4s`, objectBytes("unlisted"));
    await env.MEDIA.put(`videos/${video.id}/hls/480p/extra/seg_00000.m4s`, objectBytes("unlisted"));
    expect((await call(`${base}hls/2160p/seg_00000.m4s`)).status).toBe(404);
    expect((await call(`${base}hls/480p/extra/seg_00000.m4s`)).status).toBe(404);
    expect((await call(`${base}hls/audio/seg_00000.m4s`)).status).toBe(200);
  });
});

describe("GET /media/…: delivery", () => {
  it("serves segments with type, immutable caching and ETag; the second request comes from the edge cache", async () => {
    const { video, base } = await playing();
    const path = "hls/720p/seg_00001.m4s";
    const first = await call(`${base}${path}`);
    expect(first.status).toBe(200);
    expect(first.headers.get("Content-Type")).toBe("video/iso.segment");
    expect(first.headers.get("Cache-Control")).toBe("private, max-age=31536000, immutable");
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
