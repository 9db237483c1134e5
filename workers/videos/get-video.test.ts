import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { videos } from "../../schema/index.ts";
import {
  brokenKv,
  callWithEnv,
  insertReadyVideos,
  listedInGenre,
  problemOf,
  setTitleInDatabaseOnly,
  signUpAdmin,
  uniqueGenre,
  withTestServices,
} from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { markVideoReady, syncCatalogCache } from "./index.ts";

describe("GET /v1/videos/{id}", () => {
  it("answers the Video document: summary fields, cast, renditions, thumbnails", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre("one")], maturityRating: "18+" });
    const response = await call(`/v1/videos/${video?.id}`, { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { video: Record<string, unknown> };
    expect(body.video).toMatchObject({
      id: video?.id,
      title: video?.title,
      cast: ["Ada Brook"],
      maturityRating: "18+",
      renditions: [
        { height: 480, bitrate: 1_200_000, codec: "avc1.4d401e" },
        { height: 1080, bitrate: 5_000_000, codec: "avc1.640028" },
      ],
    });
    expect(body.video.thumbnailsUrl).toMatch(new RegExp(`/media/${video?.id}/v2\\.[^/]+/storyboard\\.vtt$`));
    expect(Object.keys(body.video)).not.toContain("state");
  });

  it("answers 404 alike for unknown ids, malformed ids and videos that are not ready", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const created = await call("/v1/admin/videos", {
      method: "POST",
      token: admin.accessToken,
      json: { title: "Draft", summary: "Not yet.", genres: [], releaseYear: 2025 },
    });
    const draft = ((await created.json()) as { video: { id: string } }).video.id;
    for (const id of ["zzzzzzzzzzzzzzzzzzzz", draft, "1' or '1'='1", "a".repeat(64)]) {
      const response = await call(`/v1/videos/${encodeURIComponent(id)}`, { token: viewer.accessToken });
      expect(response.status, id).toBe(404);
      expect((await problemOf(response)).detail).toMatch(/no video/);
    }
  });

  it("lists a video once it becomes ready, even after its absence was read", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const genre = uniqueGenre("publish");
    const created = await call("/v1/admin/videos", {
      method: "POST",
      token: admin.accessToken,
      json: { title: "Soon", summary: "Transcoding.", genres: [genre], releaseYear: 2025 },
    });
    const id = ((await created.json()) as { video: { id: string } }).video.id;
    expect((await call(`/v1/videos/${id}`, { token: viewer.accessToken })).status).toBe(404);
    expect(await listedInGenre(genre, viewer.accessToken)).toEqual([]);

    // What the transcode pipeline will do when it finishes (a video is published from `transcoding`).
    await withTestServices(async (services) => {
      await services.db.update(videos).set({ state: "transcoding" }).where(eq(videos.id, id));
      const now = await markVideoReady(services.db, id, {
        durationSeconds: 42.5,
        renditions: [{ height: 720, bitrate: 3_000_000, codec: "avc1.64001f" }],
      });
      await syncCatalogCache(services, { id, wasListed: false, now });
    });
    const response = await call(`/v1/videos/${id}`, { token: viewer.accessToken });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { video: { durationSeconds: number } }).video.durationSeconds).toBe(42.5);
    const listed = (await (await call(`/v1/videos?genre=${genre}`, { token: viewer.accessToken })).json()) as { items: { id: string }[] };
    expect(listed.items.map((item) => item.id)).toEqual([id]);
  });

  it("is served from KV once read, and from Postgres when KV is down", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre("doc")], title: () => "Cached title" });
    expect((await call(`/v1/videos/${video?.id}`, { token: viewer.accessToken })).status).toBe(200);
    await setTitleInDatabaseOnly(video?.id ?? "", "Database title");
    const cached = (await (await call(`/v1/videos/${video?.id}`, { token: viewer.accessToken })).json()) as { video: { title: string } };
    expect(cached.video.title).toBe("Cached title");
    const down = await callWithEnv({ CACHE: brokenKv }, `/v1/videos/${video?.id}`, { token: viewer.accessToken });
    expect(down.status).toBe(200);
    expect(((await down.json()) as { video: { title: string } }).video.title).toBe("Database title");
  });

  it("answers 401 without a token", async () => {
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre("auth")] });
    expect((await call(`/v1/videos/${video?.id}`)).status).toBe(401);
  });
});
