import { z } from "@hono/zod-openapi";
import { videoSummarySchema } from "../videos/schema.ts";

export const myListVideoIdParam = z.object({
  videoId: z
    .string()
    .max(64)
    .openapi({ param: { name: "videoId", in: "path" }, example: "k3x9q2m7w1b8v5c4n6z0", description: "Video id" }),
});

export const myListResponse = z
  .object({
    items: z.array(videoSummarySchema).openapi({ description: "The titles on the profile's list, most recently added first" }),
    count: z.number().int().openapi({ example: 3, description: "Titles on the list" }),
    max: z.number().int().openapi({ example: 100, description: "Titles a list holds at most" }),
  })
  .openapi("MyList");

export const myListChangeResponse = z
  .object({
    videoId: z.string(),
    inMyList: z.boolean(),
    count: z.number().int().openapi({ description: "Titles on the list after the change" }),
    max: z.number().int(),
  })
  .openapi("MyListChange");

/** A thumb as the API writes it; the object stores 1 / -1 / 0. */
export const ratingValue = z.enum(["up", "down"]).openapi({ example: "up", description: "Thumbs up or thumbs down" });

export const ratingBody = z.object({ rating: ratingValue }).openapi("RatingBody");

export const titleStateResponse = z
  .object({
    videoId: z.string(),
    inMyList: z.boolean(),
    rating: ratingValue.nullable().openapi({ description: "The profile's thumb on the title, or null" }),
  })
  .openapi("TitleState");

export type RatingValue = z.infer<typeof ratingValue>;
