import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requirePlaybackAuth, sessionChecked } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { myListChangeResponse, myListVideoIdParam } from "./schema.ts";
import { MY_LIST_MAX, objectOf, requirePublishedTitle, unlessRevoked, writeMyListCopy } from "./service.ts";

const putRoute = createRoute({
  method: "put",
  path: "/v1/my-list/{videoId}",
  tags: ["My List and ratings"],
  summary: "Adds a title to the profile's My List (again: nothing changes)",
  description:
    `A list holds ${MY_LIST_MAX} titles; adding to a full list answers 409 and changes nothing. Stored in the user's Durable Object, ` +
    "copied to KV for the home page at once (at this location) and to the database behind: works while the database is down.",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  request: { params: myListVideoIdParam },
  responses: {
    200: { description: "On the list", content: { "application/json": { schema: myListChangeResponse } } },
    ...problemResponses(401, 404, 409, 429, 503),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/my-list/{videoId}",
  tags: ["My List and ratings"],
  summary: "Takes a title off the profile's My List (not on it: nothing changes)",
  description: "Works for a title since removed from the catalog too, and while the database is down.",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  request: { params: myListVideoIdParam },
  responses: {
    200: { description: "Off the list", content: { "application/json": { schema: myListChangeResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerChangeMyList(app: OpenAPIHono<AppEnv>) {
  app.openapi(putRoute, async (c) => {
    const services = c.get("services");
    const auth = c.get("auth");
    const { videoId } = c.req.valid("param");
    await requirePublishedTitle(services, auth, videoId);
    const { stub, profileId, flushDelayMs } = objectOf(services, auth);
    const answer = unlessRevoked(
      await stub.addToMyList({ userId: auth.userId, sessionId: auth.sessionId, profileId, videoId, max: MY_LIST_MAX, flushDelayMs }),
    );
    sessionChecked(c);
    if (answer.outcome === "full") {
      throw new ApiError(
        "conflict",
        `Your list is full: it holds ${answer.max} titles, the most a list can. Remove a title from My List to add another.`,
      );
    }
    if (answer.outcome === "added") await writeMyListCopy(services, auth, answer.entries);
    c.header("Cache-Control", "private, no-store");
    return c.json({ videoId, inMyList: true, count: answer.entries.length, max: MY_LIST_MAX }, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const services = c.get("services");
    const auth = c.get("auth");
    const { videoId } = c.req.valid("param");
    const { stub, profileId, flushDelayMs } = objectOf(services, auth);
    const answer = unlessRevoked(
      await stub.removeFromMyList({ userId: auth.userId, sessionId: auth.sessionId, profileId, videoId, flushDelayMs }),
    );
    sessionChecked(c);
    if (answer.removed) await writeMyListCopy(services, auth, answer.entries);
    c.header("Cache-Control", "private, no-store");
    return c.json({ videoId, inMyList: false, count: answer.entries.length, max: MY_LIST_MAX }, 200);
  });
}
