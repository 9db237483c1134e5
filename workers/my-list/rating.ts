import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requirePlaybackAuth, sessionChecked } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { videoIdParam } from "../videos/schema.ts";
import { ratingBody, titleStateResponse } from "./schema.ts";
import { objectOf, ratingValueOf, requirePublishedTitle, toRating, unlessRevoked } from "./service.ts";

const putRoute = createRoute({
  method: "put",
  path: "/v1/videos/{id}/rating",
  tags: ["My List and ratings"],
  summary: "Gives the title a thumbs up or down for the profile (replaces the one it had)",
  description:
    "Only a published title can be rated (404 otherwise). Stored in the user's Durable Object and copied to the database behind " +
    "(`video_ratings`, which the rows that recommend read): works while the database is down.",
  security: bearerSecurity,
  middleware: [jsonBodyLimit, requirePlaybackAuth("progress")] as const,
  request: { params: videoIdParam, body: { required: true, content: { "application/json": { schema: ratingBody } } } },
  responses: {
    200: { description: "The title's state for the profile", content: { "application/json": { schema: titleStateResponse } } },
    ...problemResponses(400, 401, 404, 413, 429, 503),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/videos/{id}/rating",
  tags: ["My List and ratings"],
  summary: "Takes back the profile's thumb on the title (none: nothing changes)",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "The title's state for the profile", content: { "application/json": { schema: titleStateResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/videos/{id}/my-state",
  tags: ["My List and ratings"],
  summary: "The title as the profile sees it on its page: on My List or not, and its thumb",
  description: "One Durable Object call, no query: works while the database is down.",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "The title's state for the profile", content: { "application/json": { schema: titleStateResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerRating(app: OpenAPIHono<AppEnv>) {
  const answerState = async (c: Parameters<Parameters<typeof app.openapi>[1]>[0], videoId: string) => {
    const auth = c.get("auth");
    const { stub, profileId } = objectOf(c.get("services"), auth);
    const state = unlessRevoked(await stub.titleChoices({ sessionId: auth.sessionId, profileId, videoId }));
    sessionChecked(c);
    c.header("Cache-Control", "private, no-store");
    return { videoId, inMyList: state.inMyList, rating: ratingValueOf(state.rating) };
  };

  app.openapi(putRoute, async (c) => {
    const services = c.get("services");
    const auth = c.get("auth");
    const { id } = c.req.valid("param");
    await requirePublishedTitle(services, auth, id);
    const { stub, profileId, flushDelayMs } = objectOf(services, auth);
    const rating = toRating[c.req.valid("json").rating];
    unlessRevoked(await stub.rateTitle({ userId: auth.userId, sessionId: auth.sessionId, profileId, videoId: id, rating, flushDelayMs }));
    return c.json(await answerState(c, id), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const auth = c.get("auth");
    const { id } = c.req.valid("param");
    const { stub, profileId, flushDelayMs } = objectOf(c.get("services"), auth);
    unlessRevoked(
      await stub.rateTitle({ userId: auth.userId, sessionId: auth.sessionId, profileId, videoId: id, rating: 0, flushDelayMs }),
    );
    return c.json(await answerState(c, id), 200);
  });

  app.openapi(getRoute, async (c) => c.json(await answerState(c, c.req.valid("param").id), 200));
}
