import { z } from "zod";

/**
 * The wire contract between the Worker's transcoding service and the transcoder (`transcoder/`):
 * what the Worker posts, what the transcoder calls back with, and the results those carry.
 *
 * Zod schemas, the types inferred from them. Both sides check with the same schemas: the
 * transcoder every task it is given (`POST /tasks`) and every result before it reports it, the
 * Worker every callback and result. So a plan the Worker accepts is one the transcoder's chunk
 * and finalize tasks accept, bound for bound. This module imports zod and nothing else: the
 * transcoder's image carries it and zod alone from outside `transcoder/` (lint enforces both).
 *
 * How a master becomes a ladder (each step a task, each task one ffmpeg-sized piece of work that
 * any transcoder instance can run, none holding a queue consumer open):
 *
 * 1. `plan`: probe the master's headers (HTTP range requests, never the whole file), refuse what
 *    cannot be published, decide the ladder, and cut the title into ranges that start on
 *    keyframes (a master no longer than `chunkSeconds` is one range).
 * 2. `chunk` (one per range, in parallel): decode only that range of the master and encode the
 *    whole video ladder for it, plus the storyboard tiles (and the poster frame) that fall in it.
 *    Segments are stored with their decode times already shifted to the chunk's place in the title.
 * 3. `audio` (in parallel with the chunks): the whole source's audio, encoded once, as its own
 *    rendition.
 * 4. `finalize`: one media playlist per rung joining every chunk's segments under one init segment
 *    (continuous timestamps, no EXT-X-DISCONTINUITY), the master playlist, the storyboard sprite
 *    and its WebVTT, the poster, and the quality report over the whole title.
 *
 * Dispatch (`POST {transcoder}/tasks` with a `TranscodeTask`) answers at once: 202 `TaskAccepted`,
 * or 429 `TranscoderBusy` with `Retry-After` when the instance runs another task. The transcoder
 * then posts `TaskCallback`s to the task's `callbackUrl` with the task's storage grant as bearer
 * token: progress every few seconds (also a heartbeat, so a lease can tell a live task from a
 * dead one), then one `done` or `failed`. Every callback names the task and its attempt; the
 * Worker answers 409 to one from an attempt that is no longer current, which changes nothing
 * there and makes the transcoder stop that attempt.
 */

/* ------------------------------------------------------------------------------------------------
 * Bounds both sides hold a plan to
 * --------------------------------------------------------------------------------------------- */

/** No title is longer (the quality check refuses more than 6 h unless a task raises its limit). */
export const MAX_TITLE_SECONDS = 24 * 3600;
/** The most storyboard thumbnails: the interval stretches for long titles (one sprite per title). */
export const MAX_STORYBOARD_TILES = 200;
/** A thumbnail's longest side, and the sprite's (JPEG and ffmpeg's `tile` stay well inside). */
export const MAX_TILE_SIDE = 640;
/**
 * The most bytes one read of the storage route returns: a longer range (or an open one, `bytes=N-`)
 * is answered with this many bytes from its start (206, its Content-Range says so), and the
 * transcoder asks for windows no larger (its range proxy), so no read costs more than this
 * whatever its reader does.
 */
export const STORAGE_RANGE_MAX_BYTES = 16 * 1024 * 1024;
export const MAX_SPRITE_SIDE = 16_384;
/**
 * How long a container instance has between a rollout's SIGTERM and its SIGKILL: 15 minutes
 * (Cloudflare Containers, "Rollouts": "the container will be sent a SIGTERM signal and still has
 * 15 minutes to shut down gracefully"). The transcoder finishes its running task within it or
 * hands the task back (`TRANSCODER_GRACE_SECONDS`), and the local stack kills its transcoders
 * after the same grace.
 */
export const CONTAINER_ROLLOUT_GRACE_SECONDS = 15 * 60;

/**
 * The most ranges a plan cut at `chunkSeconds` may hold: one per started chunk length (a tail
 * shorter than a quarter chunk rides with the range before it, so a plan usually holds fewer).
 *
 * @example
 * maxChunkCount(130, 60) // 3
 */
export function maxChunkCount(durationSeconds: number, chunkSeconds: number): number {
  return Math.max(1, Math.ceil(durationSeconds / chunkSeconds - 1e-9));
}

// The building blocks, each with the words a person reads when a value is wrong.
const atMost = (limit: number) => `must be at most ${limit}`;
const count = z
  .number("must be a whole number, 0 or more")
  .int("must be a whole number, 0 or more")
  .nonnegative("must be a whole number, 0 or more");
const positiveInt = z
  .number("must be a whole number, 1 or more")
  .int("must be a whole number, 1 or more")
  .positive("must be a whole number, 1 or more");
const nonNegative = z.number("must be a number, 0 or more").nonnegative("must be a number, 0 or more");
const positive = z.number("must be a positive number").positive("must be a positive number");
const finite = z.number("must be a number");
const flag = z.boolean("must be true or false");
/** Ids, keys, codecs: never empty, never huge. */
const text = z.string("must be a non-empty string").regex(/\S/, "must be a non-empty string").max(4096, atMost(4096));
const httpUrl = z.string("must be an http(s) URL").regex(/^https?:\/\/\S+$/, "must be an http(s) URL");
/** A rung's name is also its folder: "720p". */
const rungName = z.string("must be a rung name such as 720p").regex(/^\d{2,4}p$/, "must be a rung name such as 720p");

/* ------------------------------------------------------------------------------------------------
 * The quality report (stored on the video, shown in the admin view)
 * --------------------------------------------------------------------------------------------- */

/** Limits the quality check enforces; a task may lower or raise any of them. */
export const qualityLimitsSchema = z.object({
  /** Largest accepted picture, compared orientation-free (a portrait 2160x3840 fits 3840x2160). */
  maxWidth: positive,
  maxHeight: positive,
  maxDurationSeconds: positive,
  minDurationSeconds: positive,
  /** Below this many bits per pixel per frame, the source is reported as very low bitrate. */
  lowBitsPerPixel: positive,
});
export type QualityLimits = z.infer<typeof qualityLimitsSchema>;

export const qualityWarningCodeSchema = z.enum([
  "frame-drops",
  "variable-frame-rate",
  "interlaced",
  "rotated",
  "low-bitrate",
  "no-audio",
  "decode-errors",
]);
export type QualityWarningCode = z.infer<typeof qualityWarningCodeSchema>;

export const qualityWarningSchema = z.object({ code: qualityWarningCodeSchema, message: z.string().max(4096, atMost(4096)) });
export type QualityWarning = z.infer<typeof qualityWarningSchema>;

/** What the report says about the source; also the ladder planner's input. */
export const sourceSummarySchema = z.object({
  container: z.string(),
  durationSeconds: nonNegative,
  /** As displayed: pixel aspect and rotation applied. */
  width: count,
  height: count,
  codedWidth: count,
  codedHeight: count,
  rotation: finite,
  /** Frames per second, rounded for people; `frameRate` is exact ("30000/1001"). */
  fps: nonNegative,
  frameRate: z.string(),
  videoCodec: z.string(),
  audioCodec: z.string().nullable(),
  /** Whole-file bits per second. */
  bitrate: nonNegative.nullable(),
  /** The video stream's bits per second, estimated from the file when the container omits it. */
  videoBitrate: nonNegative.nullable(),
  hasAudio: flag,
  interlaced: flag,
  variableFrameRate: flag,
});
export type SourceSummary = z.infer<typeof sourceSummarySchema>;

export const qualityReportSchema = z.object({
  ok: flag,
  /** Why the source is refused, in words a person can act on ("no video stream"). */
  refusal: z.string().max(4000, atMost(4000)).optional(),
  warnings: z.array(qualityWarningSchema).max(100, atMost(100)),
  source: sourceSummarySchema.nullable(),
});
export type QualityReport = z.infer<typeof qualityReportSchema>;

/* ------------------------------------------------------------------------------------------------
 * The plan every task of a job encodes with
 * --------------------------------------------------------------------------------------------- */

export const rationalSchema = z.object({ num: positive, den: positive });
export type Rational = z.infer<typeof rationalSchema>;

export const renditionPlanSchema = z.object({
  /** "720p": the short side; also the rendition's folder name. */
  name: rungName,
  width: positiveInt.max(16_384, atMost(16_384)),
  height: positiveInt.max(16_384, atMost(16_384)),
  shortSide: positiveInt.max(16_384, atMost(16_384)),
  frameRate: rationalSchema,
  fps: positive.max(1000, atMost(1000)),
  videoBitrate: positive,
  maxBitrate: positive,
  bufferSize: positive,
  /** Frames per GOP: segment duration times frame rate, so segments cut on keyframes. */
  gopFrames: positiveInt.max(100_000, atMost(100_000)),
});
export type RenditionPlan = z.infer<typeof renditionPlanSchema>;

export const audioPlanSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("aac"), bitrate: positive, channels: z.literal(2), sampleRate: z.literal(48_000) }),
  z.object({ type: z.literal("none") }),
]);
export type AudioPlan = z.infer<typeof audioPlanSchema>;

export const ladderPlanSchema = z.object({
  /** Smallest first. */
  renditions: z.array(renditionPlanSchema).min(1).max(16, atMost(16)),
  deinterlace: flag,
  audio: audioPlanSchema,
  segmentSeconds: positive.max(60, atMost(60)),
});
export type LadderPlan = z.infer<typeof ladderPlanSchema>;

/**
 * The poster's widths for `srcset`, made at finalize from the poster frame (only those no wider
 * than it; a frame narrower than all of them gets one size, its own width). The published
 * `posterKey` names the widest: `hls/poster-1280w.webp` (`.jpg` where ffmpeg lacks libwebp). The
 * catalog reads the set back from that name (`workers/platform/media-layout.ts`, same widths).
 */
export const POSTER_WIDTHS = [320, 640, 1280] as const;

export const posterPlanSchema = z.object({
  atSeconds: nonNegative,
  width: positiveInt.max(16_384, atMost(16_384)),
  height: positiveInt.max(16_384, atMost(16_384)),
});
export type PosterPlan = z.infer<typeof posterPlanSchema>;

export const storyboardPlanSchema = z
  .object({
    intervalSeconds: positive,
    tileCount: positiveInt.max(MAX_STORYBOARD_TILES, atMost(MAX_STORYBOARD_TILES)),
    columns: positiveInt,
    rows: positiveInt,
    tileWidth: positiveInt.max(MAX_TILE_SIDE, atMost(MAX_TILE_SIDE)),
    tileHeight: positiveInt.max(MAX_TILE_SIDE, atMost(MAX_TILE_SIDE)),
  })
  .superRefine((plan, context) => {
    if (plan.columns > plan.tileCount) issue(context, ["columns"], "must not exceed tileCount");
    if (plan.rows !== Math.ceil(plan.tileCount / plan.columns)) issue(context, ["rows"], "must be tileCount / columns, rounded up");
    if (plan.columns * plan.tileWidth > MAX_SPRITE_SIDE || plan.rows * plan.tileHeight > MAX_SPRITE_SIDE)
      issue(context, ["tileCount"], `makes a sprite larger than ${MAX_SPRITE_SIDE} pixels a side`);
  });
export type StoryboardPlan = z.infer<typeof storyboardPlanSchema>;

/** idet's "Multi frame detection" counts. */
export const interlaceDetectionSchema = z.object({
  topFieldFirst: count,
  bottomFieldFirst: count,
  progressive: count,
  undetermined: count,
});
export type InterlaceDetection = z.infer<typeof interlaceDetectionSchema>;

/** Everything a job's tasks share, decided once by `plan` and passed on verbatim by the Worker. */
export const encodePlanSchema = z
  .object({
    /** The video's declared duration: previews are spread over it, truncation is measured against it. */
    durationSeconds: positive.max(MAX_TITLE_SECONDS, atMost(MAX_TITLE_SECONDS)),
    /** The duration is the video stream's own (exact to a frame), not only the container's. */
    durationFromStream: flag,
    /** The source as the checks before decoding saw it, with the sampled interlace verdict. */
    source: sourceSummarySchema,
    /**
     * The instant every rendition's time 0 stands for, in source seconds: the file's start time, as
     * a single continuous encode would take it, so audio and video keep their offset.
     */
    originSeconds: finite,
    video: z.object({
      /** Absolute stream index (`0:v:0` could be an MP4's cover art). */
      streamIndex: count,
      /** Of the stream's timestamps, in which chunk boundaries are given (exact integers). */
      timeBase: rationalSchema,
    }),
    /** The audio stream to encode, or null when the source has none ffmpeg can decode. */
    audio: z.object({ streamIndex: count }).nullable(),
    ladder: ladderPlanSchema,
    poster: posterPlanSchema,
    storyboard: storyboardPlanSchema,
    /** idet's votes over the frames the plan sampled: the interlace verdict the ladder follows. */
    interlace: interlaceDetectionSchema.nullable(),
  })
  .superRefine((plan, context) => {
    if (plan.poster.atSeconds > plan.durationSeconds) issue(context, ["poster", "atSeconds"], "must fall within the title");
    const { intervalSeconds, tileCount } = plan.storyboard;
    if (tileCount > Math.max(1, Math.ceil(plan.durationSeconds / intervalSeconds - 1e-6)))
      issue(context, ["storyboard", "tileCount"], "must not exceed one tile per interval of the title");
  });
export type EncodePlan = z.infer<typeof encodePlanSchema>;

/** One range of the master: from a keyframe up to (not including) the next range's keyframe. */
export const chunkRangeSchema = z
  .object({
    /** 0, 1, 2…: the order in the title. */
    index: count,
    /** The first frame's presentation timestamp, in the video stream's time base (a keyframe). */
    startPts: finite.int(),
    startSeconds: finite,
    /** The next range's `startPts` (exclusive), or null for the last range, which runs to the end. */
    endPts: finite.int().nullable(),
    /** The next range's start, or the declared end of the video for the last range. */
    endSeconds: finite,
  })
  .superRefine((range, context) => {
    if (!(range.endSeconds > range.startSeconds)) issue(context, ["endSeconds"], "must be after startSeconds");
  });
export type ChunkRange = z.infer<typeof chunkRangeSchema>;

/* ------------------------------------------------------------------------------------------------
 * Tasks: what the Worker posts to `POST {transcoder}/tasks`
 * --------------------------------------------------------------------------------------------- */

export const transcodeTaskKindSchema = z.enum(["plan", "chunk", "audio", "finalize"]);
export type TranscodeTaskKind = z.infer<typeof transcodeTaskKindSchema>;

const taskEnvelope = {
  /** One per upload of a master. */
  jobId: text,
  videoId: text,
  /** Unique within the job ("plan", "chunk-0003", "audio", "finalize"). */
  taskId: text,
  /** 1 for the first dispatch of the task, counting up with each new one; echoed in every callback. */
  attempt: positiveInt,
  /** The master, `masters/{videoId}/{uploadId}`; read with HTTP range requests, never downloaded whole. */
  sourceKey: text,
  /** Where the task writes, ending with "/" (`videos/{videoId}/hls/`). */
  outputPrefix: text.endsWith("/", "must end with '/'"),
  /**
   * Every object this attempt writes below `outputPrefix` has a file name that starts with this
   * (`c0003-a2-`), so two attempts never write the same key and a dead attempt's leftovers are
   * told from the live one's. The finalize task deletes what no playlist references.
   */
  attemptTag: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, '.', '_' and '-' only (it starts object names)"),
  /**
   * The Worker's `/internal/storage` and two grants for this attempt: `token` reads below
   * `outputPrefix`, writes there names that start with `attemptTag`, and authenticates the
   * callbacks; `sourceToken` reads `sourceKey` and nothing else, and is the only one ffmpeg is given.
   */
  storage: z.object({ baseUrl: httpUrl, token: text, sourceToken: text }),
  /** Where callbacks go: `POST` a `TaskCallback` with `Authorization: Bearer {storage.token}`. */
  callbackUrl: httpUrl,
  limits: z
    .strictObject(qualityLimitsSchema.partial().shape, {
      error: (problem) => (problem.code === "unrecognized_keys" ? "unknown limit" : undefined),
    })
    .optional(),
};

export const planTaskSchema = z.object({
  ...taskEnvelope,
  kind: z.literal("plan"),
  /** Target chunk length; a master no longer than this is one chunk. */
  chunkSeconds: positive.max(3600, atMost(3600)),
});
export type PlanTask = z.infer<typeof planTaskSchema>;

export const chunkTaskSchema = z.object({ ...taskEnvelope, kind: z.literal("chunk"), encode: encodePlanSchema, chunk: chunkRangeSchema });
export type ChunkTask = z.infer<typeof chunkTaskSchema>;

export const audioTaskSchema = z.object({ ...taskEnvelope, kind: z.literal("audio"), encode: encodePlanSchema });
export type AudioTask = z.infer<typeof audioTaskSchema>;

/* ------------------------------------------------------------------------------------------------
 * Results
 * --------------------------------------------------------------------------------------------- */

/** One stored media segment. */
export const segmentOutputSchema = z.object({
  key: text,
  /** Duration in the rendition's timescale (exact: the sum of its samples' durations). */
  ticks: count,
  bytes: count,
});
export type SegmentOutput = z.infer<typeof segmentOutputSchema>;

export const chunkRenditionSchema = z.object({
  /** The rung ("720p"). */
  name: rungName,
  /** RFC 6381, e.g. "avc1.64001f". */
  codec: text,
  /** Stored by chunk 0 only; every other chunk's init segment must be the same bytes. */
  initKey: text.nullable(),
  initSha256: text,
  /** Ticks per second of the rendition's track. */
  timescale: positiveInt,
  /** Decode time of the chunk's first frame in the joined rendition, in ticks. */
  startTicks: count,
  frames: count,
  segments: z.array(segmentOutputSchema),
});
export type ChunkRendition = z.infer<typeof chunkRenditionSchema>;

/** What decoding the range found: the quality check's decode half, one range at a time. */
export const decodeSummarySchema = z.object({
  /** Seconds of video decoded from the range's start. */
  decodedSeconds: finite,
  errorCount: count,
  /** The first few error lines, verbatim. */
  errors: z.array(z.string().max(4096, atMost(4096))).max(100, atMost(100)),
  /** The demuxer said the data ran out before the index said it would. */
  endedEarly: flag,
});
export type DecodeSummary = z.infer<typeof decodeSummarySchema>;

/**
 * Frame timing of one range's packets, in a form that adds up across ranges (counts, extremes),
 * so the title's frame drops and variable frame rate are found without one pass over the file.
 */
export const frameTimingSummarySchema = z.object({
  frames: count,
  /** Source seconds of the range's first and last packet. */
  firstSeconds: finite,
  lastSeconds: finite,
  /** The median interval between frames. */
  nominalIntervalSeconds: nonNegative,
  missingFrames: count,
  gaps: count,
  longestGap: z.object({ atSeconds: finite, seconds: nonNegative }).nullable(),
  /** Intervals outside gaps, and how many of them stray from the nominal one. */
  regularIntervals: count,
  irregularIntervals: count,
  minIntervalSeconds: finite,
  maxIntervalSeconds: finite,
});
export type FrameTimingSummary = z.infer<typeof frameTimingSummarySchema>;

export const chunkResultSchema = z.object({
  kind: z.literal("chunk"),
  index: count,
  renditions: z.array(chunkRenditionSchema).max(16, atMost(16)),
  /** The storyboard tiles that fall in this range, by their number in the whole storyboard. */
  tiles: z
    .array(z.object({ index: count.max(MAX_STORYBOARD_TILES - 1, atMost(MAX_STORYBOARD_TILES - 1)), key: text }))
    .max(MAX_STORYBOARD_TILES, atMost(MAX_STORYBOARD_TILES)),
  /** Set by the one range that holds the poster's instant. */
  posterKey: text.nullable(),
  decode: decodeSummarySchema,
  timing: frameTimingSummarySchema.nullable(),
});
export type ChunkResult = z.infer<typeof chunkResultSchema>;

export const audioResultSchema = z.object({
  kind: z.literal("audio"),
  codec: text,
  initKey: text,
  timescale: positiveInt,
  segments: z.array(segmentOutputSchema).min(1),
});
export type AudioResult = z.infer<typeof audioResultSchema>;

export const renditionResultSchema = z.object({
  name: rungName,
  width: positiveInt,
  height: positiveInt,
  /** Measured average bits per second of the video. */
  bitrate: nonNegative,
  /** HLS peak segment bit rate of the video. */
  peakBitrate: nonNegative,
  frameRate: positive,
  /** RFC 6381, e.g. "avc1.64001f". */
  codec: text,
  /** Storage key of the rendition's media playlist. */
  playlist: text,
});
export type RenditionResult = z.infer<typeof renditionResultSchema>;

/** A published ladder: what the video row records. */
export const transcodeResultSchema = z.object({
  renditions: z.array(renditionResultSchema).min(1).max(16, atMost(16)),
  audio: z.object({ codec: text, bitrate: nonNegative, playlist: text }).nullable(),
  masterPlaylistKey: text,
  posterKey: text,
  storyboard: z.object({ spriteKey: text, vttKey: text }),
  qualityReport: qualityReportSchema,
  /** The renditions' duration, as players will see it. */
  durationSeconds: positive.max(MAX_TITLE_SECONDS, atMost(MAX_TITLE_SECONDS)),
});
export type TranscodeResult = z.infer<typeof transcodeResultSchema>;

export const finalizeResultSchema = transcodeResultSchema.extend({ kind: z.literal("finalize") });
export type FinalizeResult = z.infer<typeof finalizeResultSchema>;

/** A plan result of any chunk length: what a stored plan is read back with. */
export const anyPlanResultSchema = z.object({
  kind: z.literal("plan"),
  encode: encodePlanSchema,
  /** Contiguous, in order, covering the whole title. */
  chunks: z.array(chunkRangeSchema).min(1),
});
export type PlanResult = z.infer<typeof anyPlanResultSchema>;

/**
 * The result of a plan task cut at `chunkSeconds`: its ranges numbered 0, 1, 2… in order, each
 * starting where the one before ends, the last one open, and no more of them than
 * `maxChunkCount` allows for the title's duration.
 *
 * @example
 * planResultSchema(task.chunkSeconds).parse(result)
 */
export function planResultSchema(chunkSeconds: number) {
  return anyPlanResultSchema.superRefine(({ chunks, encode }, context) => {
    const most = maxChunkCount(encode.durationSeconds, chunkSeconds);
    if (chunks.length > most)
      issue(
        context,
        ["chunks"],
        `${chunks.length} ranges for ${encode.durationSeconds} s in chunks of ${chunkSeconds} s (at most ${most})`,
      );
    chunks.forEach((chunk, index) => {
      const next = chunks[index + 1];
      if (chunk.index !== index) issue(context, ["chunks", index, "index"], `must be ${index}`);
      if (next && (chunk.endPts !== next.startPts || chunk.endSeconds !== next.startSeconds))
        issue(context, ["chunks", index, "endPts"], "must be where the next range starts");
      if (!next && chunk.endPts !== null) issue(context, ["chunks", index, "endPts"], "must be null for the last range");
    });
  });
}

const taskResultUnionSchema = z.discriminatedUnion("kind", [
  anyPlanResultSchema,
  chunkResultSchema,
  audioResultSchema,
  finalizeResultSchema,
]);
export type TaskResult = z.infer<typeof taskResultUnionSchema>;

/**
 * Every object a published ladder consists of, but its master playlist: each rendition's and the
 * audio's media playlist, init segment and segments (those of the chunks' and the audio's winning
 * attempts), the poster and the storyboard. What else lies below the ladder's prefix (storyboard
 * tiles, a dead attempt's segments, the finalize's own copy of the master) is deleted when the
 * ladder is published.
 *
 * @example
 * const keep = new Set([...publishedKeys(result, chunks, audio), masterPlaylistKey(videoId)]);
 */
export function publishedKeys(result: FinalizeResult, chunks: readonly ChunkResult[], audio: AudioResult | null): string[] {
  return [
    ...result.renditions.map((rendition) => rendition.playlist),
    ...(result.audio ? [result.audio.playlist] : []),
    result.posterKey,
    result.storyboard.spriteKey,
    result.storyboard.vttKey,
    ...chunks.flatMap((chunk) =>
      chunk.renditions.flatMap((rendition) => [
        ...(rendition.initKey ? [rendition.initKey] : []),
        ...rendition.segments.map((segment) => segment.key),
      ]),
    ),
    ...(audio ? [audio.initKey, ...audio.segments.map((segment) => segment.key)] : []),
  ];
}

export const finalizeTaskSchema = z.object({
  ...taskEnvelope,
  kind: z.literal("finalize"),
  encode: encodePlanSchema,
  /** The winning attempt's result of every chunk, in any order (each names its index). */
  chunks: z.array(chunkResultSchema).min(1),
  /** Null when the plan has no audio. */
  audio: audioResultSchema.nullable(),
});
export type FinalizeTask = z.infer<typeof finalizeTaskSchema>;

export const transcodeTaskSchema = z.discriminatedUnion("kind", [planTaskSchema, chunkTaskSchema, audioTaskSchema, finalizeTaskSchema], {
  error: (problem) => (problem.path?.length ? "must be one of plan, chunk, audio, finalize" : "must be a JSON object"),
});
export type TranscodeTask = z.infer<typeof transcodeTaskSchema>;

/** What `task` must report: its kind's result, a plan's bounded by the chunk length the task asked for. */
export function taskResultSchema(task: TranscodeTask): z.ZodType<TaskResult> {
  switch (task.kind) {
    case "plan":
      return planResultSchema(task.chunkSeconds);
    case "chunk":
      return chunkResultSchema;
    case "audio":
      return audioResultSchema;
    case "finalize":
      return finalizeResultSchema;
  }
}

/** 202: the task runs; progress and the result arrive as callbacks. */
export const taskAcceptedSchema = z.object({
  taskId: text,
  attempt: positiveInt,
  /** `already-running`: this very attempt was dispatched twice; the one run goes on. */
  state: z.enum(["started", "already-running"]),
});
export type TaskAccepted = z.infer<typeof taskAcceptedSchema>;

/** 429 (with `Retry-After`): the instance runs another task or job; try another or later. */
export const transcoderBusySchema = z.object({
  error: z.string(),
  running: z.object({ taskId: text, attempt: positiveInt }).nullable(),
});
export type TranscoderBusy = z.infer<typeof transcoderBusySchema>;

/* ------------------------------------------------------------------------------------------------
 * Callbacks: what the transcoder posts to a task's `callbackUrl`
 * --------------------------------------------------------------------------------------------- */

/** 0–100 of this task; repeated every few seconds even without news (a heartbeat). */
const progressEvent = z.object({ type: z.literal("progress"), percent: finite.min(0).max(100, atMost(100)) });
/**
 * `retryable`: running the task again may help (a crash, a stall, storage trouble); a refusal
 * of the source is not, and says why in words. `qualityReport` comes with a refusal.
 */
const failedEvent = z.object({
  type: z.literal("failed"),
  retryable: flag,
  reason: text.max(4000, atMost(4000)),
  qualityReport: qualityReportSchema.optional(),
});
const doneEvent = z.object({ type: z.literal("done"), result: taskResultUnionSchema });
/**
 * The instance is shutting down (a rollout's SIGTERM) and stopped the task before its end: the
 * task goes back to be run by another instance, and it is not a failure of the task (no attempt
 * is counted against it). `reason` says why, in words.
 */
const handedBackEvent = z.object({ type: z.literal("handed-back"), reason: text.max(4000, atMost(4000)) });

export const taskEventSchema = z.discriminatedUnion("type", [progressEvent, doneEvent, failedEvent, handedBackEvent]);
export type TaskEvent = z.infer<typeof taskEventSchema>;

const callbackEnvelope = {
  jobId: text,
  videoId: text,
  taskId: text,
  kind: transcodeTaskKindSchema,
  attempt: positiveInt,
};

export const taskCallbackSchema = z.object({ ...callbackEnvelope, event: taskEventSchema });
export type TaskCallback = z.infer<typeof taskCallbackSchema>;

/**
 * A callback as the Worker first reads it: everything checked but a `done` event's result, which
 * is checked against its task's kind (`taskResultSchema`) once the task is known, so a malformed
 * result counts as a failed attempt rather than a bad request.
 */
export const taskCallbackEnvelopeSchema = z.object({
  ...callbackEnvelope,
  event: z.discriminatedUnion("type", [progressEvent, doneEvent.extend({ result: z.unknown() }), failedEvent, handedBackEvent]),
});

/**
 * Every issue of a failed parse, as `path: message` lines a person can read, one per unknown key.
 *
 * @example
 * describeIssues(transcodeTaskSchema.safeParse(body).error) // ["chunk.endPts: must be a number", "limits.fps: unknown limit"]
 */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((entry) => {
    const paths = entry.code === "unrecognized_keys" ? entry.keys.map((key) => [...entry.path, key]) : [entry.path];
    return paths.map((path) => `${path.length > 0 ? path.join(".") : "body"}: ${entry.message}`);
  });
}

function issue(context: z.RefinementCtx, path: (string | number)[], message: string): void {
  context.addIssue({ code: "custom", message, path });
}
