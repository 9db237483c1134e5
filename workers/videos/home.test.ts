import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createRouter } from "../platform/app.ts";
import { handleError } from "../platform/http-errors.ts";
import { initServices } from "../platform/request-services.ts";
import { brokenKv, callWithEnv, insertReadyVideos, uniqueGenre } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { createVideosRouter } from "./index.ts";
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

  it("puts the playback service's continue-watching row first when the viewer has one", async () => {
    const viewer = await signUp();
    const [watched] = await insertReadyVideos(1, { genres: [uniqueGenre("watched")] });
    const summary = { ...(watched as object), posterUrl: null } as unknown as VideoSummary;
    const seen: string[] = [];
    // The app as index.ts composes it, with a continue-watching reader standing in for playback's.
    const app = createRouter();
    app.use("*", initServices);
    app.route(
      "/",
      createVideosRouter({
        continueWatching: async (_services, userId) => {
          seen.push(userId);
          return [summary];
        },
      }),
    );
    app.onError(handleError);
    const ctx = createExecutionContext();
    const response = await app.request("/v1/home", { headers: { Authorization: `Bearer ${viewer.accessToken}` } }, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    const { rows } = (await response.json()) as Home;
    expect(rows[0]).toMatchObject({ id: "continue-watching", title: "Continue watching", items: [{ id: watched?.id }] });
    expect(rows[1]?.id).toBe("new-releases");
    expect(seen).toEqual([viewer.user.id]);
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
