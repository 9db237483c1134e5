import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { videoIdParam, videoSchema, videoSummarySchema } from "./schema.ts";
import { getVideoDocument, isWithinCeiling, type MoreLikeThisReader, notFound } from "./service.ts";

const videoResponse = z
  .object({
    video: videoSchema,
    moreLikeThis: z.array(videoSummarySchema).openapi({
      description:
        "Titles like this one (shared genres, cast and words, computed hourly in the background), best first; empty until computed",
    }),
  })
  .openapi("VideoEnvelope");

const route = createRoute({
  method: "get",
  path: "/v1/videos/{id}",
  tags: ["Videos"],
  summary: "One video, with its cast and renditions",
  description:
    "404 for an unknown id, for a video that is not ready yet, and for one above the maturity ceiling of the token's profile: " +
    "viewers only ever see listed videos they may watch.",
  security: bearerSecurity,
  middleware: [requireBrowseAuth] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "The video", content: { "application/json": { schema: videoResponse } } },
    ...problemResponses(401, 404, 429, 503),
  },
});

export function registerGetVideo(app: OpenAPIHono<AppEnv>, moreLikeThis: MoreLikeThisReader) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    const ceiling = c.get("auth").maturityCeiling;
    // Read along with the document: one KV call for both.
    const like = moreLikeThis(services, id);
    const video = await getVideoDocument(services, id);
    // Above the profile's ceiling, a title is unknown: 404, not 403, which would say that it exists.
    if (!video || !isWithinCeiling(video, ceiling)) throw notFound(id);
    c.header("Cache-Control", "private, max-age=0");
    const similar = (await like.items()).filter((item) => isWithinCeiling(item, ceiling));
    return c.json({ video, moreLikeThis: similar }, 200);
  });
}
