import type { Hono } from "hono";
import type { AppEnv } from "../../workers/platform/app-env.ts";
import { ApiError } from "../../workers/platform/errors.ts";
import { mediaPrefix } from "../../workers/platform/media-layout.ts";
import { isVideoId } from "../../workers/videos/index.ts";
import { readMediaCounters, resetMediaCounters } from "./media-counters.ts";

/**
 * Test and benchmark only: these routes exist in the test Worker (./index.ts) and nowhere in the
 * production graph. Put media bytes into R2 the way the transcoder does, list and read what a
 * video has in R2 (the pipeline tests compare it with what its playlists name: the transcoder's
 * grants die with their attempts, so nothing else can read it after), and read a user's
 * write-behind counters. The end-to-end test and `npm run bench:playback` use them. And answer a
 * JSON body of a given size with no binding at all: `npm run bench:api` compares the home page with
 * an answer of its size, since every byte of an answer passes wrangler dev's proxy.
 */
export function registerTestRoutes(app: Hono<AppEnv>) {
  app.put("/internal/test/media/:videoId/*", async (c) => {
    const videoId = c.req.param("videoId");
    const path = c.req.path.split("/").slice(5).map(decodeURIComponent).join("/");
    if (!isVideoId(videoId) || path === "" || path.split("/").some((part) => part === "" || part === "..")) {
      throw new ApiError("bad-request", "PUT /internal/test/media/{videoId}/{path} with the object's bytes as the body.");
    }
    await c.get("services").media.bucket.put(`${mediaPrefix(videoId)}${path}`, await c.req.arrayBuffer());
    return c.body(null, 204);
  });
  app.get("/internal/test/media/:videoId", async (c) => {
    const videoId = c.req.param("videoId");
    if (!isVideoId(videoId)) throw new ApiError("bad-request", "GET /internal/test/media/{videoId}: every key below videos/{videoId}/.");
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await c.get("services").media.bucket.list({ prefix: mediaPrefix(videoId), cursor });
      keys.push(...page.objects.map((object) => object.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return c.json({ keys: keys.sort() });
  });
  app.get("/internal/test/media/:videoId/*", async (c) => {
    const videoId = c.req.param("videoId");
    const path = c.req.path.split("/").slice(5).map(decodeURIComponent).join("/");
    const object = isVideoId(videoId) && path !== "" ? await c.get("services").media.bucket.get(`${mediaPrefix(videoId)}${path}`) : null;
    if (!object) throw new ApiError("not-found", `There is no object videos/${videoId}/${path}.`);
    return new Response(object.body, { headers: { "Content-Length": String(object.size) } });
  });
  app.get("/internal/test/json-body/:bytes", (c) => {
    const bytes = Number(c.req.param("bytes"));
    if (!Number.isInteger(bytes) || bytes < 2 || bytes > 1_000_000) {
      throw new ApiError("bad-request", "GET /internal/test/json-body/{bytes}: 2 to 1000000 bytes.");
    }
    return c.body(JSON.stringify("x".repeat(bytes - 2)), 200, { "Content-Type": "application/json" });
  });
  // The media path's counts since the last DELETE (./media-counters.ts; npm run bench:delivery).
  app.get("/internal/test/media-counters", (c) => c.json(readMediaCounters()));
  app.delete("/internal/test/media-counters", (c) => {
    resetMediaCounters();
    return c.body(null, 204);
  });
  app.get("/internal/test/viewer-state/:userId", async (c) => {
    const state = c.get("services").viewerState(c.req.param("userId"));
    return c.json({ flush: await state.flushStats(), leases: await state.listLeases() });
  });
  // `npm run bench:playback`: this user's object writes its progress to Postgres itself ("before"), and flushes now (testing/worker/index.ts).
  app.post("/internal/test/viewer-state/:userId/:control{.+}", async (c) => {
    const state = c.get("services").viewerState(c.req.param("userId"));
    return state.fetch(`https://viewer-state/${c.req.param("control")}`, { method: "POST" });
  });
}
