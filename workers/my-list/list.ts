import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requirePlaybackAuth, sessionChecked } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { getVideoSummaries } from "../videos/index.ts";
import { myListResponse } from "./schema.ts";
import { MY_LIST_MAX, myListCopyMatches, objectOf, unlessRevoked, writeMyListCopy } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/my-list",
  tags: ["My List and ratings"],
  summary: "The titles on the profile's My List, most recently added first",
  description:
    "From the user's Durable Object (one call; no query while the titles' documents are in KV): works while the database is down. " +
    "The home page shows the same list as its `my-list` row without this call. Counts against the per-account progress limit (40 per 10 s).",
  security: bearerSecurity,
  middleware: [requirePlaybackAuth("progress")] as const,
  responses: {
    200: { description: "The list", content: { "application/json": { schema: myListResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerGetMyList(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const auth = c.get("auth");
    const { stub, profileId } = objectOf(services, auth);
    const { entries } = unlessRevoked(await stub.myList({ sessionId: auth.sessionId, profileId }));
    sessionChecked(c);
    const ids = entries.map((entry) => entry.videoId);
    const [{ items }, copied] = await Promise.all([getVideoSummaries(services, ids), myListCopyMatches(services, auth, ids)]);
    // A copy KV refused (two changes within a second, twice) is repaired by the next read.
    if (!copied) await writeMyListCopy(services, auth, entries);
    c.header("Cache-Control", "private, no-store");
    return c.json({ items, count: entries.length, max: MY_LIST_MAX }, 200);
  });
}
