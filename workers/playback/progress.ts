import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requirePlaybackAuth, sessionChecked, sessionEnded } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { ApiError } from "../platform/errors.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { viewerCountry } from "../platform/viewer-country.ts";
import { getVideoDocument, isVideoId, notFound } from "../videos/index.ts";
import { CONTINUE_WATCHING_SIZE } from "./continue-watching.ts";
import { progressBody, progressListResponse, progressResponse, videoIdParam } from "./schema.ts";
import { recordProgress } from "./service.ts";

const putRoute = createRoute({
  method: "put",
  path: "/v1/videos/{id}/progress",
  tags: ["Playback"],
  summary: 'Progress heartbeat: where the viewer is ("watched till"); renews the session\'s screen lease',
  description:
    "Send every few seconds while playing. Stored at once in the user's Durable Object, written to Postgres in batches. " +
    "Rate limited per account (40 per 10 s: a player sends one every 5 s per screen); 429 with Retry-After beyond that.",
  security: bearerSecurity,
  middleware: [jsonBodyLimit, requirePlaybackAuth("progress")] as const,
  request: { params: videoIdParam, body: { required: true, content: { "application/json": { schema: progressBody } } } },
  responses: {
    204: { description: "Recorded" },
    ...problemResponses(400, 401, 404, 413, 429, 503),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/videos/{id}/progress",
  tags: ["Playback"],
  summary: "Where the viewer stopped",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "Watched till", content: { "application/json": { schema: progressResponse } } },
    ...problemResponses(401, 404, 429, 503),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/progress",
  tags: ["Playback"],
  summary: "Where the viewer stopped in each unfinished title, most recent first (continue watching's progress bars)",
  description:
    "The titles of continue watching (20 at most) with their positions, from the user's Durable Object: one call, no query. " +
    "The home page stays edge-only; a client asks this beside it. Counts against the progress limit (40 per 10 s).",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  responses: {
    200: { description: "Positions", content: { "application/json": { schema: progressListResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerProgress(app: OpenAPIHono<AppEnv>) {
  app.openapi(listRoute, async (c) => {
    const { userId, sessionId } = c.get("auth");
    const answer = await c.get("services").viewerState(userId).listProgress(sessionId, CONTINUE_WATCHING_SIZE);
    if (answer.revoked) throw sessionEnded();
    sessionChecked(c);
    c.header("Cache-Control", "private, no-store");
    return c.json(
      {
        items: answer.items.map((item) => ({
          videoId: item.videoId,
          positionSeconds: item.positionSeconds,
          durationSeconds: item.durationSeconds,
          updatedAt: new Date(item.updatedAt).toISOString(),
        })),
      },
      200,
    );
  });

  app.openapi(putRoute, async (c) => {
    const services = c.get("services");
    const heartbeat = { ...c.req.valid("json"), country: viewerCountry(c.req.raw) };
    await recordProgress(services, c.get("auth"), c.req.valid("param").id, heartbeat, async (id) => {
      const video = await getVideoDocument(services, id);
      return video ? { durationSeconds: video.durationSeconds, upNext: video.episode?.next?.id ?? null } : undefined;
    });
    sessionChecked(c);
    return c.body(null, 204);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!isVideoId(id)) throw notFound(id);
    const { userId, sessionId } = c.get("auth");
    const answer = await c.get("services").viewerState(userId).getProgress(sessionId, id);
    if (answer.revoked) throw sessionEnded();
    sessionChecked(c);
    const { progress } = answer;
    if (!progress) throw new ApiError("not-found", "You have not watched this video yet.");
    c.header("Cache-Control", "private, no-store");
    return c.json(
      { positionSeconds: progress.positionSeconds, updatedAt: new Date(progress.updatedAt).toISOString(), finished: progress.finished },
      200,
    );
  });
}
