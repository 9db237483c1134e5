import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../platform/app-env.ts";
import { requirePlaybackAuth, sessionChecked } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { playResponse, releaseBody, videoIdParam } from "./schema.ts";
import { checkPlayable, releasePlayback, startPlayback } from "./service.ts";

/**
 * HEAD (which Hono answers with the GET route) must change nothing: the same checks, then 200 with
 * no body; no screen is taken and no URL signed. `requirePlaybackAuth` then checks the session
 * with a call that changes nothing either.
 */
const headChangesNothing = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method !== "HEAD") return next();
  await checkPlayable(c.get("services"), c.get("auth"), c.req.param("id") ?? "");
  c.header("Cache-Control", "no-store");
  return c.body(null, 200);
});

/** `GET` and `POST` play: the signed playback, never cached. */
async function answerPlay(c: Context<AppEnv>, videoId: string, options: { takeOver?: boolean } = {}) {
  const playback = await startPlayback(c.get("services"), c.get("auth"), videoId, options);
  sessionChecked(c);
  c.header("Cache-Control", "no-store");
  return c.json(playback, 200);
}

export function registerPlay(app: OpenAPIHono<AppEnv>) {
  const route = createRoute({
    method: "get",
    path: "/v1/videos/{id}/play",
    tags: ["Playback"],
    summary: "Start (or move) this session's stream: a signed manifest URL, where to resume, the plan's height",
    description:
      "Takes this session's screen lease (moving it when the session was playing another title). 402 without an active plan, " +
      "409 while the video is not ready, 429 when every screen of the plan is in use or after 30 plays in a minute on one " +
      "account (with Retry-After). HEAD runs the same checks and changes nothing: no screen taken, no URL signed.",
    security: bearerSecurity,
    middleware: [requirePlaybackAuth("play"), headChangesNothing] as const,
    request: { params: videoIdParam },
    responses: {
      200: { description: "Signed playback", content: { "application/json": { schema: playResponse } } },
      ...problemResponses(401, 402, 404, 409, 429, 503),
    },
  });
  app.openapi(route, (c) => answerPlay(c, c.req.valid("param").id));

  const takeOverRoute = createRoute({
    method: "post",
    path: "/v1/videos/{id}/play",
    tags: ["Playback"],
    summary: 'Play here instead ("watch here instead"): as GET, but when every screen is in use, ends another device\'s stream',
    description:
      "The same answers as GET, except that a plan with every screen in use does not answer 429: the stream of another session " +
      "that went longest without a heartbeat is ended, and its next playlist, segment or heartbeat answers 403 `stream-taken-over`. " +
      "No body. Counts against the same 30 plays a minute.",
    security: bearerSecurity,
    middleware: [requirePlaybackAuth("play")] as const,
    request: { params: videoIdParam },
    responses: {
      200: { description: "Signed playback", content: { "application/json": { schema: playResponse } } },
      ...problemResponses(401, 402, 404, 409, 429, 503),
    },
  });
  app.openapi(takeOverRoute, (c) => answerPlay(c, c.req.valid("param").id, { takeOver: true }));

  const releaseRoute = createRoute({
    method: "post",
    path: "/v1/videos/{id}/play/release",
    tags: ["Playback"],
    summary: "The player stopped: free this stream's screen now (usable with navigator.sendBeacon)",
    description:
      "Authenticated by the play answer's `streamToken` in the body, not a bearer token, so a page that is being closed can send it " +
      "(`navigator.sendBeacon` sets no headers and cannot refresh an access token). Frees the screen only if the session's lease is " +
      "still this stream's; idempotent. `bandwidthEstimate` is kept as this session's next `bandwidthEstimate` hint.",
    middleware: [jsonBodyLimit] as const,
    request: { params: videoIdParam, body: { required: true, content: { "application/json": { schema: releaseBody } } } },
    responses: {
      204: { description: "Released (or already ended)" },
      ...problemResponses(400, 403, 413, 503),
    },
  });
  app.openapi(releaseRoute, async (c) => {
    await releasePlayback(c.get("services"), c.req.valid("param").id, c.req.valid("json"));
    c.header("Cache-Control", "no-store");
    return c.body(null, 204);
  });
}
