import { z } from "@hono/zod-openapi";

export { videoIdParam } from "../videos/schema.ts";

export const playResponse = z
  .object({
    manifestUrl: z.string().openapi({
      example: "https://api.reelstream.example/media/k3x9q2m7w1b8v5c4n6z0/v1.m2.1767225600.1080.<user>.<session>.<sig>/hls/master.m3u8",
      description: "Signed HLS master playlist; play it with any HLS player, unchanged.",
    }),
    expiresAt: z.string().openapi({ example: "2026-01-01T00:00:00.000Z", description: "When the signed URL stops working" }),
    resumeAt: z.number().openapi({ example: 1834.5, description: "Seconds: where to start (0 for a finished or new title)" }),
    maxHeight: z.number().int().openapi({ example: 1080, description: "Tallest rendition the plan allows" }),
    streamToken: z.string().openapi({
      description:
        "This play's stream (the signed token of `manifestUrl`): send it to `POST /v1/videos/{id}/play/release` when the player stops, to free the screen at once",
    }),
    bandwidthEstimate: z.number().int().nullable().openapi({
      example: 4_200_000,
      description:
        "Bits per second this session's player measured by the end of its previous stream (sent with its release), or null: a player starts at a rendition that fits it",
    }),
  })
  .openapi("Playback");

/** Generous bounds: a player's estimate, in bits per second (1 kbit/s to 10 Gbit/s). */
export const releaseBody = z
  .object({
    streamToken: z.string().min(1).max(512).openapi({ description: "`streamToken` of the play answer" }),
    bandwidthEstimate: z.number().int().min(1_000).max(10_000_000_000).optional().openapi({
      example: 4_200_000,
      description: "Bits per second the player measured (hls.js `bandwidthEstimate`): the next play's hint",
    }),
  })
  .strict()
  .openapi("StreamRelease");

const seconds = (what: string) =>
  z
    .number({
      error: (issue) =>
        typeof issue.input === "number" ? `${what} must be a finite number of seconds.` : `${what} must be a number of seconds.`,
    })
    .refine(Number.isFinite, `${what} must be a finite number of seconds.`)
    .refine((value) => value >= 0, `${what} cannot be negative.`);

export const progressBody = z
  .object({
    positionSeconds: seconds("positionSeconds").openapi({ example: 1834.5 }),
    durationSeconds: seconds("durationSeconds")
      .refine((value) => value > 0, "durationSeconds must be greater than 0.")
      .optional()
      .openapi({ example: 5412.48, description: "The player's idea of the duration; the catalog's wins when it has one" }),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.durationSeconds !== undefined && body.positionSeconds > body.durationSeconds) {
      ctx.addIssue({
        code: "custom",
        path: ["positionSeconds"],
        message: `positionSeconds cannot be beyond durationSeconds (${body.durationSeconds}).`,
      });
    }
  })
  .openapi("ProgressUpdate");

export const progressResponse = z
  .object({
    positionSeconds: z.number().openapi({ example: 1834.5, description: "Watched till, in seconds" }),
    updatedAt: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    finished: z.boolean().openapi({ description: "Near the end: a new play starts at 0" }),
  })
  .openapi("Progress");

const count = (what: string, most: number) =>
  z
    .number({ error: `${what} must be a whole number from 0 to ${most}.` })
    .int(`${what} must be a whole number from 0 to ${most}.`)
    .min(0, `${what} must be a whole number from 0 to ${most}.`)
    .max(most, `${what} must be a whole number from 0 to ${most}.`);

/** What a player measured since its last beacon (web/src/player/qoe.ts sends it). */
export const qoeBeacon = z
  .object({
    manifestUrl: z.string().min(1).max(2048).openapi({
      description:
        "The manifestUrl of the play being reported, as GET /v1/videos/{id}/play gave it: it names the title and proves the play",
    }),
    startupMs: count("startupMs", 600_000)
      .optional()
      .openapi({ example: 850, description: "From pressing play to the first frame; in the play's first beacon only" }),
    playingMs: count("playingMs", 3_600_000).openapi({ example: 10_000, description: "Time spent playing since the last beacon" }),
    rebufferCount: count("rebufferCount", 10_000).openapi({
      example: 1,
      description: "Stalls (waiting for data, not seeking) since the last beacon",
    }),
    rebufferMs: count("rebufferMs", 3_600_000).openapi({ example: 420, description: "Time stalled since the last beacon" }),
    rungSwitches: count("rungSwitches", 10_000).openapi({ example: 2, description: "Rendition changes since the last beacon" }),
    heightPx: count("heightPx", 4320).optional().openapi({ example: 1080, description: "Height of the rendition playing now" }),
    fatalError: z
      .enum(["network", "media", "key", "other"])
      .optional()
      .openapi({ description: "The kind of error that stopped playback, if one did" }),
  })
  .strict()
  .openapi("QoeBeacon");

export const progressListResponse = z
  .object({
    items: z.array(
      z.object({
        videoId: z.string(),
        positionSeconds: z.number(),
        durationSeconds: z.number().nullable(),
        updatedAt: z.string(),
      }),
    ),
  })
  .openapi("ProgressList");
