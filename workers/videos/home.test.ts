import { describe, expect, it } from "vitest";
import { HEARTBEAT_COPY_INTERVAL_MS } from "../playback/continue-watching.ts";
import { brokenKv, callWithEnv, insertReadyVideos, signUpAdmin, uniqueGenre } from "../test/catalog.ts";
import { advanceClock, call, signUp } from "../test/helpers.ts";
import type { VideoSummary } from "./schema.ts";

interface Home {
  rows: { id: string; title: string; items: (VideoSummary & { genres: string[] })[] }[];
}

describe("GET /v1/home", () => {
  it("has new releases first, then genre rows whose items carry the genre; no continue-watching for a new viewer", async () => {
    const viewer = await signUp();
    const [newest] = await insertReadyVideos(1, {
      genres: [uniqueGenre("home")],
      publishedAt: () => new Date(Date.now() + 2 * 86_400_000),
    });
    const response = await call("/v1/home", { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const { rows } = (await response.json()) as Home;
    expect(rows[0]?.id).toBe("new-releases");
    expect(rows[0]?.items.length).toBeLessThanOrEqual(20);
    expect(rows[0]?.items.map((item) => item.id)).toContain(newest?.id);
    expect(rows.map((row) => row.id)).not.toContain("continue-watching");
    expect(new Set(rows.map((row) => row.id)).size).toBe(rows.length);
    for (const row of rows.slice(1)) {
      expect(row.id).toMatch(/^genre:/);
      const genre = row.id.slice("genre:".length);
      expect(row.items.length).toBeGreaterThan(0);
      for (const item of row.items) expect(item.genres).toContain(genre);
    }
  });

  it("puts the viewer's continue-watching row first, the titles' summaries from the catalog", async () => {
    const viewer = await signUp();
    const [watched] = await insertReadyVideos(1, { genres: [uniqueGenre("watched")], durationSeconds: 600 });
    const heartbeat = await call(`/v1/videos/${watched?.id}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 42 },
    });
    expect(heartbeat.status).toBe(204);
    const response = await call("/v1/home", { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const { rows } = (await response.json()) as Home;
    expect(rows[0]).toMatchObject({ id: "continue-watching", title: "Continue watching" });
    expect(rows[0]?.items).toEqual([
      {
        id: watched?.id,
        title: watched?.title,
        summary: watched?.summary,
        genres: watched?.genres,
        releaseYear: watched?.releaseYear,
        durationSeconds: 600,
        posterUrl: expect.stringMatching(new RegExp(`/media/${watched?.id}/v\\d+\\.`)),
        posters: [],
        maturityRating: watched?.maturityRating,
        // A film: no series, season or episode number.
        episode: null,
      },
    ]);
    expect(rows[1]?.id).toBe("new-releases");
  });

  it("shows an admin's edit of a title in the continue-watching row at once, and drops a deleted title", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const [kept, removed] = await insertReadyVideos(2, { genres: [uniqueGenre("row-edit")], durationSeconds: 600 });
    for (const video of [removed, kept]) {
      // A heartbeat rewrites the row's KV copy at most once per interval.
      advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
      const heartbeat = await call(`/v1/videos/${video?.id}/progress`, {
        method: "PUT",
        token: viewer.accessToken,
        json: { positionSeconds: 5 },
      });
      expect(heartbeat.status).toBe(204);
    }
    const row = async () => ((await (await call("/v1/home", { token: viewer.accessToken })).json()) as Home).rows[0];
    expect((await row())?.items.map((item) => item.id)).toEqual([kept?.id, removed?.id]);
    const edit = await call(`/v1/admin/videos/${kept?.id}`, { method: "PATCH", token: admin.accessToken, json: { title: "A new title" } });
    expect(edit.status).toBe(200);
    expect((await row())?.items.map((item) => item.title)).toEqual(["A new title", removed?.title]);
    expect((await call(`/v1/admin/videos/${removed?.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    expect((await row())?.items.map((item) => item.id)).toEqual([kept?.id]);
  });

  it("still answers from Postgres when KV is down", async () => {
    const viewer = await signUp();
    await insertReadyVideos(2, { genres: [uniqueGenre("home-kv")] });
    const response = await callWithEnv({ CACHE: brokenKv }, "/v1/home", { token: viewer.accessToken });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Home).rows[0]?.id).toBe("new-releases");
  });

  it("answers 401 without a token", async () => {
    expect((await call("/v1/home")).status).toBe(401);
  });
});
