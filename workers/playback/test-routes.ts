import type { Context, Hono } from "hono";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import { isVideoId } from "../videos/index.ts";

/**
 * Test and benchmark only, never in production (APP_ENV = "production" answers 404): put media
 * bytes into R2 the way the transcoder will, before the upload pipeline exists end to end, and
 * read a user's write-behind counters. The end-to-end test and `npm run bench:playback` use them.
 */
export function registerPlaybackTestRoutes(app: Hono<AppEnv>) {
  const guard = (c: Context<AppEnv>) => {
    if (c.env.APP_ENV === "production") throw new ApiError("not-found", `There is nothing at ${c.req.path}.`);
  };
  app.put("/internal/test/media/:videoId/*", async (c) => {
    guard(c);
    const videoId = c.req.param("videoId");
    const path = c.req.path.split("/").slice(5).map(decodeURIComponent).join("/");
    if (!isVideoId(videoId) || path === "" || path.split("/").some((part) => part === "" || part === "..")) {
      throw new ApiError("bad-request", "PUT /internal/test/media/{videoId}/{path} with the object's bytes as the body.");
    }
    await c.get("services").media.bucket.put(`videos/${videoId}/${path}`, await c.req.arrayBuffer());
    return c.body(null, 204);
  });
  app.get("/internal/test/viewer-state/:userId", async (c) => {
    guard(c);
    const state = c.get("services").viewerState(c.req.param("userId"));
    return c.json({ flush: await state.flushStats(), leases: await state.listLeases() });
  });
}
