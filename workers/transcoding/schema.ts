import { z } from "zod";
import type {
  AudioResult,
  ChunkRange,
  ChunkResult,
  EncodePlan,
  FinalizeResult,
  PlanResult,
  QualityReport,
  TaskCallback,
} from "./contract.ts";

/**
 * The contract's shapes as zod, for what the Worker reads from the transcoder: callbacks and the
 * results they carry. Where a schema spells a shape whole it is checked against the contract's
 * type (`satisfies`), so the two cannot drift apart; the larger shapes (the encode plan, a chunk's
 * result, the quality report) check the fields the Worker reads or relies on and keep the rest as
 * the transcoder sent it, which the Worker stores and passes on to later tasks unchanged.
 */

const rational = z.object({ num: z.number().positive(), den: z.number().positive() });
const nonEmpty = z.string().min(1);

const qualityReport = z.looseObject({
  ok: z.boolean(),
  refusal: z.string().optional(),
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string() })),
  source: z.looseObject({}).nullable(),
}) as unknown as z.ZodType<QualityReport>;

const renditionPlan = z.looseObject({
  name: nonEmpty,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  shortSide: z.number().int().positive(),
  frameRate: rational,
  fps: z.number().positive(),
  videoBitrate: z.number().positive(),
  maxBitrate: z.number().positive(),
  bufferSize: z.number().positive(),
  gopFrames: z.number().int().positive(),
});

const encodePlan = z.looseObject({
  durationSeconds: z.number().positive(),
  durationFromStream: z.boolean(),
  originSeconds: z.number(),
  source: z.looseObject({ fps: z.number().positive(), videoCodec: z.string(), hasAudio: z.boolean() }),
  video: z.object({ streamIndex: z.number().int().nonnegative(), timeBase: rational }),
  audio: z.object({ streamIndex: z.number().int().nonnegative() }).nullable(),
  ladder: z.looseObject({
    renditions: z.array(renditionPlan).min(1),
    deinterlace: z.boolean(),
    audio: z.looseObject({ type: z.enum(["aac", "none"]) }),
    segmentSeconds: z.number().positive(),
  }),
  poster: z.object({ atSeconds: z.number().nonnegative(), width: z.number().int().positive(), height: z.number().int().positive() }),
  storyboard: z.looseObject({ intervalSeconds: z.number().positive(), tileCount: z.number().int().positive() }),
  interlace: z.looseObject({}).nullable(),
}) as unknown as z.ZodType<EncodePlan>;

const chunkRange = z.object({
  index: z.number().int().nonnegative(),
  startPts: z.number(),
  startSeconds: z.number(),
  endPts: z.number().nullable(),
  endSeconds: z.number(),
}) satisfies z.ZodType<ChunkRange>;

export const planResult = z.looseObject({
  kind: z.literal("plan"),
  encode: encodePlan,
  chunks: z.array(chunkRange).min(1),
}) satisfies z.ZodType<PlanResult>;

const segment = z.object({ key: nonEmpty, ticks: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() });

export const chunkResult = z.looseObject({
  kind: z.literal("chunk"),
  index: z.number().int().nonnegative(),
  renditions: z.array(
    z.looseObject({
      name: nonEmpty,
      codec: z.string(),
      initKey: nonEmpty.nullable(),
      initSha256: z.string(),
      timescale: z.number().int().positive(),
      startTicks: z.number().int().nonnegative(),
      frames: z.number().int().nonnegative(),
      segments: z.array(segment),
    }),
  ),
  tiles: z.array(z.object({ index: z.number().int().nonnegative(), key: nonEmpty })),
  posterKey: nonEmpty.nullable(),
  decode: z.looseObject({
    decodedSeconds: z.number(),
    errorCount: z.number().int().nonnegative(),
    errors: z.array(z.string()),
    endedEarly: z.boolean(),
  }),
  timing: z.looseObject({}).nullable(),
}) as unknown as z.ZodType<ChunkResult>;

export const audioResult = z.looseObject({
  kind: z.literal("audio"),
  codec: nonEmpty,
  initKey: nonEmpty,
  timescale: z.number().int().positive(),
  segments: z.array(segment).min(1),
}) satisfies z.ZodType<AudioResult>;

export const finalizeResult = z.looseObject({
  kind: z.literal("finalize"),
  renditions: z
    .array(
      z.looseObject({
        name: nonEmpty,
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        bitrate: z.number().nonnegative(),
        peakBitrate: z.number().nonnegative(),
        frameRate: z.number().positive(),
        codec: nonEmpty,
        playlist: nonEmpty,
      }),
    )
    .min(1),
  audio: z.object({ codec: nonEmpty, bitrate: z.number().nonnegative(), playlist: nonEmpty }).nullable(),
  masterKey: nonEmpty,
  posterKey: nonEmpty,
  storyboard: z.object({ spriteKey: nonEmpty, vttKey: nonEmpty }),
  qualityReport,
  durationSeconds: z.number().positive(),
}) satisfies z.ZodType<FinalizeResult>;

/** Each task kind's result, by kind. */
export const taskResults = { plan: planResult, chunk: chunkResult, audio: audioResult, finalize: finalizeResult } as const;

export const taskCallback = z.object({
  jobId: nonEmpty,
  videoId: nonEmpty,
  taskId: nonEmpty,
  kind: z.enum(["plan", "chunk", "audio", "finalize"]),
  attempt: z.number().int().positive(),
  event: z.discriminatedUnion("type", [
    z.object({ type: z.literal("progress"), percent: z.number().min(0).max(100) }),
    // The result is checked against its kind's schema once the task is known.
    z.object({ type: z.literal("done"), result: z.looseObject({ kind: z.enum(["plan", "chunk", "audio", "finalize"]) }) }),
    z.object({ type: z.literal("failed"), retryable: z.boolean(), reason: nonEmpty.max(4000), qualityReport: qualityReport.optional() }),
  ]),
}) as unknown as z.ZodType<TaskCallback>;
