import { z } from "@hono/zod-openapi";
import { maturityRatings, videoStates } from "../../schema/index.ts";
import { safeText } from "../platform/text.ts";

// ---------------------------------------------------------------------------------------------
// Public shapes (docs/api.md, Catalog and home page)

/** Which episode a title is, for a card ("Lighthouse Stories, S1 E2"). */
export const episodeRefSchema = z
  .object({
    seriesId: z.string(),
    seriesTitle: z.string(),
    season: z.number().int().openapi({ example: 1 }),
    number: z.number().int().openapi({ example: 2, description: "The episode's number within its season" }),
  })
  .openapi("EpisodeRef");

export const videoSummarySchema = z
  .object({
    id: z.string().openapi({ example: "k3x9q2m7w1b8v5c4n6z0" }),
    title: z.string(),
    summary: z.string(),
    genres: z.array(z.string()).openapi({ example: ["drama", "sci-fi"] }),
    releaseYear: z.number().int().openapi({ example: 2024 }),
    durationSeconds: z.number().nullable().openapi({ example: 5412.48 }),
    posterUrl: z.string().nullable(),
    posters: z.array(z.object({ width: z.number().int(), url: z.string() })).openapi({
      description:
        "The poster in several widths (narrowest first) for `srcset`; empty for titles transcoded before sizes were made (then use `posterUrl`)",
    }),
    maturityRating: z.enum(maturityRatings).openapi({
      example: "13+",
      description: "The youngest age the title suits: `all`, `7+`, `13+`, `16+` or `18+` (a profile sees titles up to its ceiling)",
    }),
    episode: episodeRefSchema
      .nullable()
      .optional()
      .openapi({ description: "In continue watching and search results: an episode's series, season and number; null for a film" }),
  })
  .openapi("VideoSummary");

export const renditionSchema = z
  .object({ height: z.number().int(), bitrate: z.number().int(), codec: z.string() })
  .openapi("Rendition", { example: { height: 1080, bitrate: 5_000_000, codec: "avc1.640028" } });

/** The episode after this one (the next listed one of its series, across seasons): what autoplay plays. */
export const nextEpisodeSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    season: z.number().int(),
    number: z.number().int(),
    durationSeconds: z.number().nullable(),
    posterUrl: z.string().nullable(),
  })
  .openapi("NextEpisode");

export const episodeOfSchema = episodeRefSchema
  .extend({ next: nextEpisodeSchema.nullable().openapi({ description: "null after the last listed episode" }) })
  .openapi("EpisodeOf");

export const videoSchema = videoSummarySchema
  .extend({
    cast: z.array(z.string()),
    renditions: z.array(renditionSchema),
    thumbnailsUrl: z.string().nullable().openapi({ description: "WebVTT storyboard of preview thumbnails" }),
    episode: episodeOfSchema
      .nullable()
      .openapi({ description: "The series, season and episode of an episode, with the next one; null for a film" }),
  })
  .openapi("Video");

export type EpisodeOf = z.infer<typeof episodeOfSchema>;

export type VideoSummary = z.infer<typeof videoSummarySchema>;
/** The public document of a listed video, as cached in KV. */
export type VideoDocument = z.infer<typeof videoSchema>;

export const videoPageSchema = z
  .object({
    items: z.array(videoSummarySchema),
    nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page" }),
  })
  .openapi("VideoPage");

export const previewResponse = z.object({ items: z.array(videoSummarySchema) }).openapi("Preview");

export type VideoPage = z.infer<typeof videoPageSchema>;

export const homeRowSchema = z
  .object({
    id: z.string().openapi({
      example: "new-releases",
      description:
        "`continue-watching`, `my-list`, `trending`, `top10:<country>` (ISO 3166-1 alpha-2), `because:<video id>`, `new-releases` or `genre:<genre>`",
    }),
    title: z.string().openapi({ example: "New releases" }),
    items: z.array(videoSummarySchema),
  })
  .openapi("HomeRow");

export type HomeRow = z.infer<typeof homeRowSchema>;

export const homeResponse = z.object({ rows: z.array(homeRowSchema) }).openapi("Home");

export const seriesEpisodeSchema = videoSummarySchema
  .extend({ season: z.number().int(), number: z.number().int() })
  .openapi("SeriesEpisode");

export const seriesSchema = z
  .object({
    id: z.string().openapi({ example: "s3x9q2m7w1b8v5c4n6z0" }),
    title: z.string(),
    summary: z.string(),
    genres: z.array(z.string()),
    maturityRating: z.enum(maturityRatings).nullable(),
    posterUrl: z.string().nullable().openapi({ description: "The first listed episode's poster; null before one is listed" }),
    seasons: z.array(
      z.object({
        number: z.number().int(),
        title: z.string().nullable().openapi({ description: 'null: say "Season <number>"' }),
        episodes: z.array(seriesEpisodeSchema).openapi({ description: "Listed episodes, in order" }),
      }),
    ),
  })
  .openapi("Series");

/** The public document of a series, as cached in KV: seasons with a listed episode, in order. */
export type SeriesDocument = z.infer<typeof seriesSchema>;

export const seriesResponse = z.object({ series: seriesSchema }).openapi("SeriesEnvelope");

export const seriesIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "s3x9q2m7w1b8v5c4n6z0", description: "Series id" }),
});

export const videoIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "k3x9q2m7w1b8v5c4n6z0", description: "Video id" }),
});

export const PAGE_SIZE_DEFAULT = 20;
export const PAGE_SIZE_MAX = 50;

/** Lower-cased and trimmed: genres are stored that way, so a filter matches however it is typed. */
export const genreSchema = z
  .string()
  .transform((value) => value.normalize("NFC").trim().toLowerCase())
  .pipe(
    z
      .string()
      .min(1, "A genre cannot be empty.")
      .max(40, "A genre has at most 40 characters.")
      .regex(/^[\p{L}\p{N}][\p{L}\p{N} &'-]*$/u, "A genre uses letters, digits, spaces, '&', apostrophes and hyphens."),
  )
  .openapi({ type: "string", example: "sci-fi" });

export const listVideosQuery = z.object({
  limit: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return PAGE_SIZE_DEFAULT;
      const limit = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
      if (!(limit >= 1 && limit <= PAGE_SIZE_MAX)) {
        ctx.addIssue({ code: "custom", message: `limit must be a whole number from 1 to ${PAGE_SIZE_MAX}.` });
        return z.NEVER;
      }
      return limit;
    })
    .openapi({
      param: { name: "limit", in: "query" },
      type: "integer",
      minimum: 1,
      maximum: PAGE_SIZE_MAX,
      default: PAGE_SIZE_DEFAULT,
    }),
  cursor: z
    .string()
    .min(1, "cursor cannot be empty; leave it out for the first page.")
    .max(512, "This is not a cursor.")
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "`nextCursor` of the previous page, unchanged" }),
  genre: genreSchema.optional().openapi({ param: { name: "genre", in: "query" } }),
});

// ---------------------------------------------------------------------------------------------
// Admin shapes (docs/api.md, Admin)

/** A metadata field: the shared text rules (a summary keeps its paragraphs). */
function text(label: string, max: number, options: { multiline?: boolean } = {}) {
  return safeText({ label, min: 1, max, multiline: options.multiline });
}

/** A few years ahead allows announced titles. Read per validation: in a Worker's global scope the clock reads 1970. */
const latestReleaseYear = () => new Date().getUTCFullYear() + 5;

const videoFields = {
  title: text("A title", 200).openapi({ type: "string", example: "The Long Quiet" }),
  summary: text("A summary", 4000, { multiline: true }).openapi({
    type: "string",
    example: "A lighthouse keeper hears a voice on the radio.",
  }),
  genres: z
    .array(genreSchema)
    .max(10, "At most 10 genres.")
    .transform((genres) => [...new Set(genres)])
    .openapi({ type: "array", items: { type: "string" }, example: ["drama", "mystery"] }),
  // The first film is from 1888; a few years ahead allows announced titles.
  releaseYear: z
    .number()
    .int("releaseYear is a whole year, like 2024.")
    .min(1888, "releaseYear cannot be before 1888.")
    .refine((year) => year <= latestReleaseYear(), { error: () => `releaseYear cannot be after ${latestReleaseYear()}.` }),
  cast: z
    .array(text("A cast member's name", 120))
    .max(200, "At most 200 cast members.")
    .openapi({ type: "array", items: { type: "string" }, example: ["Ada Brook", "Sam Reyes"] }),
  maturityRating: z
    .enum(maturityRatings, {
      error: () =>
        "maturityRating is one of all, 7+, 13+, 16+ or 18+: the youngest age the title suits ('all' for everyone, '18+' for adults only).",
    })
    .openapi({ example: "13+" }),
};

/** Strict: an unknown field (`state`, `id`, `renditions`…) is a 400, so clients cannot set what the pipeline owns. */
export const createVideoBody = z
  .strictObject({
    title: videoFields.title,
    summary: videoFields.summary,
    genres: videoFields.genres,
    releaseYear: videoFields.releaseYear,
    cast: videoFields.cast.optional(),
    maturityRating: videoFields.maturityRating.optional(),
  })
  .openapi("CreateVideoRequest");

export const updateVideoBody = z
  .strictObject({
    title: videoFields.title.optional(),
    summary: videoFields.summary.optional(),
    genres: videoFields.genres.optional(),
    releaseYear: videoFields.releaseYear.optional(),
    cast: videoFields.cast.optional(),
    maturityRating: videoFields.maturityRating.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "Send at least one field to change.")
  .openapi("UpdateVideoRequest");

export type CreateVideoInput = z.infer<typeof createVideoBody>;
export type UpdateVideoInput = z.infer<typeof updateVideoBody>;

/** A series' fields are a video's (same rules), less what belongs to each episode. */
const createSeriesFields = z.strictObject({
  title: videoFields.title.openapi({ type: "string", example: "Lighthouse Stories" }),
  summary: videoFields.summary,
  genres: videoFields.genres.optional(),
  maturityRating: videoFields.maturityRating.optional(),
});

export const createSeriesBody = createSeriesFields.openapi("CreateSeriesRequest");

export const updateSeriesBody = createSeriesFields
  .partial()
  .refine((body) => Object.keys(body).length > 0, "Send at least one field to change.")
  .openapi("UpdateSeriesRequest");

export type CreateSeriesInput = z.infer<typeof createSeriesBody>;
export type UpdateSeriesInput = z.infer<typeof updateSeriesBody>;

export const setEpisodeBody = z
  .strictObject({
    seriesId: z.string().min(1, "seriesId names the series the video belongs to.").max(64, "This is not a series id."),
    season: z
      .number({ error: "season is a whole number from 1 to 999." })
      .int("season is a whole number from 1 to 999.")
      .min(1, "season is a whole number from 1 to 999.")
      .max(999, "season is a whole number from 1 to 999."),
    episode: z
      .number({ error: "episode is a whole number from 1 to 9999." })
      .int("episode is a whole number from 1 to 9999.")
      .min(1, "episode is a whole number from 1 to 9999.")
      .max(9999, "episode is a whole number from 1 to 9999."),
    seasonTitle: text("A season's title", 200)
      .nullable()
      .optional()
      .openapi({ type: "string", example: "Book One", description: "Sets the season's title; leave out to keep it" }),
  })
  .openapi("SetEpisodeRequest");

export type SetEpisodeInput = z.infer<typeof setEpisodeBody>;

export const adminSeriesSchema = seriesSchema
  .omit({ seasons: true })
  .extend({
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    seasons: z.array(
      z.object({
        number: z.number().int(),
        title: z.string().nullable(),
        episodes: z.array(
          z.object({ id: z.string(), title: z.string(), number: z.number().int(), state: z.enum(videoStates) }).openapi("AdminEpisode"),
        ),
      }),
    ),
  })
  .openapi("AdminSeries");

export type AdminSeries = z.infer<typeof adminSeriesSchema>;

export const adminSeriesResponse = z.object({ series: adminSeriesSchema }).openapi("AdminSeriesEnvelope");

export const adminVideoSchema = videoSchema
  .extend({
    state: z.enum(videoStates),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    publishedAt: z.string().nullable().openapi({ format: "date-time", description: "When it first became ready" }),
  })
  .openapi("AdminVideo");

export type AdminVideo = z.infer<typeof adminVideoSchema>;

export const adminVideoResponse = z.object({ video: adminVideoSchema }).openapi("AdminVideoEnvelope");

/** Where the video's latest transcode job stands (the transcoding service fills it in). */
export const transcodeStatusSchema = z
  .object({
    step: z.enum(["plan", "encode", "finalize", "done", "failed"]).openapi({
      description: "plan: probing and cutting the master; encode: chunks and audio; finalize: joining and publishing",
    }),
    chunksDone: z.number().int().nonnegative(),
    chunksTotal: z.number().int().nonnegative().openapi({ description: "0 until the plan has cut the master into chunks" }),
    attempt: z.number().int().positive().openapi({ description: "1, or more when some task of the job had to run again" }),
    waitingForTranscoder: z.boolean().openapi({ description: "a task waits for a free transcoder instance (the fleet is busy)" }),
  })
  .openapi("TranscodeStatus");

export type TranscodeStatus = z.output<typeof transcodeStatusSchema>;

export const adminVideoStatusResponse = z
  .object({
    video: adminVideoSchema,
    state: z.enum(videoStates),
    progress: z.number().nullable().openapi({ description: "Progress of the current state, 0 to 1" }),
    qualityReport: z.record(z.string(), z.unknown()).nullable(),
    renditions: z.array(renditionSchema),
    error: z.string().nullable().openapi({ example: "no video stream" }),
    transcode: transcodeStatusSchema.nullable().openapi({ description: "The latest transcode job; null when there has been none" }),
  })
  .openapi("AdminVideoStatus");
