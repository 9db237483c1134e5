/**
 * The wire contract between the Worker's transcoding service and the transcoder (`transcoder/`):
 * what the Worker posts, what the transcoder calls back with, and the results those carry.
 *
 * Types only, and no imports. The transcoder imports this file with `import type`, which Node's
 * type stripping erases, so its image (built from `transcoder/` alone) never needs it at run time;
 * the Worker wraps the shapes it reads in zod, because a body is not what a type says until it
 * has been checked.
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
 * The quality report (stored on the video, shown in the admin view)
 * --------------------------------------------------------------------------------------------- */

/** Limits the quality check enforces; a task may lower or raise any of them. */
export interface QualityLimits {
  /** Largest accepted picture, compared orientation-free (a portrait 2160x3840 fits 3840x2160). */
  maxWidth: number;
  maxHeight: number;
  maxDurationSeconds: number;
  minDurationSeconds: number;
  /** Below this many bits per pixel per frame, the source is reported as very low bitrate. */
  lowBitsPerPixel: number;
}

export type QualityWarningCode =
  | "frame-drops"
  | "variable-frame-rate"
  | "interlaced"
  | "rotated"
  | "low-bitrate"
  | "no-audio"
  | "decode-errors";

export interface QualityWarning {
  code: QualityWarningCode;
  message: string;
}

/** What the report says about the source; also the ladder planner's input. */
export interface SourceSummary {
  container: string;
  durationSeconds: number;
  /** As displayed: pixel aspect and rotation applied. */
  width: number;
  height: number;
  codedWidth: number;
  codedHeight: number;
  rotation: number;
  /** Frames per second, rounded for people; `frameRate` is exact ("30000/1001"). */
  fps: number;
  frameRate: string;
  videoCodec: string;
  audioCodec: string | null;
  /** Whole-file bits per second. */
  bitrate: number | null;
  /** The video stream's bits per second, estimated from the file when the container omits it. */
  videoBitrate: number | null;
  hasAudio: boolean;
  interlaced: boolean;
  variableFrameRate: boolean;
}

export interface QualityReport {
  ok: boolean;
  /** Why the source is refused, in words a person can act on ("no video stream"). */
  refusal?: string;
  warnings: QualityWarning[];
  source: SourceSummary | null;
}

/* ------------------------------------------------------------------------------------------------
 * The plan every task of a job encodes with
 * --------------------------------------------------------------------------------------------- */

export interface Rational {
  num: number;
  den: number;
}

export interface RenditionPlan {
  /** "720p": the short side; also the rendition's folder name. */
  name: string;
  width: number;
  height: number;
  shortSide: number;
  frameRate: Rational;
  fps: number;
  videoBitrate: number;
  maxBitrate: number;
  bufferSize: number;
  /** Frames per GOP: segment duration times frame rate, so segments cut on keyframes. */
  gopFrames: number;
}

export type AudioPlan = { type: "aac"; bitrate: number; channels: 2; sampleRate: 48_000 } | { type: "none" };

export interface LadderPlan {
  /** Smallest first. */
  renditions: RenditionPlan[];
  deinterlace: boolean;
  audio: AudioPlan;
  segmentSeconds: number;
}

export interface PosterPlan {
  atSeconds: number;
  width: number;
  height: number;
}

export interface StoryboardPlan {
  intervalSeconds: number;
  tileCount: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

/** idet's "Multi frame detection" counts. */
export interface InterlaceDetection {
  topFieldFirst: number;
  bottomFieldFirst: number;
  progressive: number;
  undetermined: number;
}

/** Everything a job's tasks share, decided once by `plan` and passed on verbatim by the Worker. */
export interface EncodePlan {
  /** The video's declared duration: previews are spread over it, truncation is measured against it. */
  durationSeconds: number;
  /** The duration is the video stream's own (exact to a frame), not only the container's. */
  durationFromStream: boolean;
  /** The source as the checks before decoding saw it, with the sampled interlace verdict. */
  source: SourceSummary;
  /**
   * The instant every rendition's time 0 stands for, in source seconds: the file's start time, as
   * a single continuous encode would take it, so audio and video keep their offset.
   */
  originSeconds: number;
  video: {
    /** Absolute stream index (`0:v:0` could be an MP4's cover art). */
    streamIndex: number;
    /** Of the stream's timestamps, in which chunk boundaries are given (exact integers). */
    timeBase: Rational;
  };
  /** The audio stream to encode, or null when the source has none ffmpeg can decode. */
  audio: { streamIndex: number } | null;
  ladder: LadderPlan;
  poster: PosterPlan;
  storyboard: StoryboardPlan;
  /** idet's votes over the frames the plan sampled: the interlace verdict the ladder follows. */
  interlace: InterlaceDetection | null;
}

/** One range of the master: from a keyframe up to (not including) the next range's keyframe. */
export interface ChunkRange {
  /** 0, 1, 2…: the order in the title. */
  index: number;
  /** The first frame's presentation timestamp, in the video stream's time base (a keyframe). */
  startPts: number;
  startSeconds: number;
  /** The next range's `startPts` (exclusive), or null for the last range, which runs to the end. */
  endPts: number | null;
  /** The next range's start, or the declared end of the video for the last range. */
  endSeconds: number;
}

/* ------------------------------------------------------------------------------------------------
 * Tasks: what the Worker posts to `POST {transcoder}/tasks`
 * --------------------------------------------------------------------------------------------- */

export type TranscodeTaskKind = "plan" | "chunk" | "audio" | "finalize";

interface TaskEnvelope {
  /** One per upload of a master. */
  jobId: string;
  videoId: string;
  /** Unique within the job ("plan", "chunk-0003", "audio", "finalize"). */
  taskId: string;
  /** 1 for the first dispatch of the task, counting up with each new one; echoed in every callback. */
  attempt: number;
  /** The master, e.g. `masters/{videoId}/source`; read with HTTP range requests, never downloaded whole. */
  sourceKey: string;
  /** Where the task writes, ending with "/" (`videos/{videoId}/hls/`). */
  outputPrefix: string;
  /**
   * Every object this attempt writes below `outputPrefix` has a file name that starts with this
   * (`c0003-a2-`), so two attempts never write the same key and a dead attempt's leftovers are
   * told from the live one's. The finalize task deletes what no playlist references.
   */
  attemptTag: string;
  /** The Worker's `/internal/storage` and a grant for this task: read `sourceKey`, write below `outputPrefix`. */
  storage: { baseUrl: string; token: string };
  /** Where callbacks go: `POST` a `TaskCallback` with `Authorization: Bearer {storage.token}`. */
  callbackUrl: string;
  limits?: Partial<QualityLimits>;
}

export interface PlanTask extends TaskEnvelope {
  kind: "plan";
  /** Target chunk length; a master no longer than this is one chunk. */
  chunkSeconds: number;
}

export interface ChunkTask extends TaskEnvelope {
  kind: "chunk";
  encode: EncodePlan;
  chunk: ChunkRange;
}

export interface AudioTask extends TaskEnvelope {
  kind: "audio";
  encode: EncodePlan;
}

export interface FinalizeTask extends TaskEnvelope {
  kind: "finalize";
  encode: EncodePlan;
  /** The winning attempt's result of every chunk, in any order (each names its index). */
  chunks: ChunkResult[];
  /** Null when the plan has no audio. */
  audio: AudioResult | null;
}

export type TranscodeTask = PlanTask | ChunkTask | AudioTask | FinalizeTask;

/** 202: the task runs; progress and the result arrive as callbacks. */
export interface TaskAccepted {
  taskId: string;
  attempt: number;
  /** `already-running`: this very attempt was dispatched twice; the one run goes on. */
  state: "started" | "already-running";
}

/** 429 (with `Retry-After`): the instance runs another task or job; try another or later. */
export interface TranscoderBusy {
  error: string;
  running: { taskId: string; attempt: number } | null;
}

/* ------------------------------------------------------------------------------------------------
 * Results
 * --------------------------------------------------------------------------------------------- */

export interface PlanResult {
  kind: "plan";
  encode: EncodePlan;
  /** Contiguous, in order, covering the whole title. */
  chunks: ChunkRange[];
}

/** One stored media segment. */
export interface SegmentOutput {
  key: string;
  /** Duration in the rendition's timescale (exact: the sum of its samples' durations). */
  ticks: number;
  bytes: number;
}

export interface ChunkRendition {
  /** The rung ("720p"). */
  name: string;
  /** RFC 6381, e.g. "avc1.64001f". */
  codec: string;
  /** Stored by chunk 0 only; every other chunk's init segment must be the same bytes. */
  initKey: string | null;
  initSha256: string;
  /** Ticks per second of the rendition's track. */
  timescale: number;
  /** Decode time of the chunk's first frame in the joined rendition, in ticks. */
  startTicks: number;
  frames: number;
  segments: SegmentOutput[];
}

/** What decoding the range found: the quality check's decode half, one range at a time. */
export interface DecodeSummary {
  /** Seconds of video decoded from the range's start. */
  decodedSeconds: number;
  errorCount: number;
  /** The first few error lines, verbatim. */
  errors: string[];
  /** The demuxer said the data ran out before the index said it would. */
  endedEarly: boolean;
}

/**
 * Frame timing of one range's packets, in a form that adds up across ranges (counts, extremes),
 * so the title's frame drops and variable frame rate are found without one pass over the file.
 */
export interface FrameTimingSummary {
  frames: number;
  /** Source seconds of the range's first and last packet. */
  firstSeconds: number;
  lastSeconds: number;
  /** The median interval between frames. */
  nominalIntervalSeconds: number;
  missingFrames: number;
  gaps: number;
  longestGap: { atSeconds: number; seconds: number } | null;
  /** Intervals outside gaps, and how many of them stray from the nominal one. */
  regularIntervals: number;
  irregularIntervals: number;
  minIntervalSeconds: number;
  maxIntervalSeconds: number;
}

export interface ChunkResult {
  kind: "chunk";
  index: number;
  renditions: ChunkRendition[];
  /** The storyboard tiles that fall in this range, by their number in the whole storyboard. */
  tiles: { index: number; key: string }[];
  /** Set by the one range that holds the poster's instant. */
  posterKey: string | null;
  decode: DecodeSummary;
  timing: FrameTimingSummary | null;
}

export interface AudioResult {
  kind: "audio";
  codec: string;
  initKey: string;
  timescale: number;
  segments: SegmentOutput[];
}

export interface RenditionResult {
  name: string;
  width: number;
  height: number;
  /** Measured average bits per second of the video. */
  bitrate: number;
  /** HLS peak segment bit rate of the video. */
  peakBitrate: number;
  frameRate: number;
  /** RFC 6381, e.g. "avc1.64001f". */
  codec: string;
  /** Storage key of the rendition's media playlist. */
  playlist: string;
}

/** A published ladder: what the video row records. The finalize task's result and the old job's. */
export interface TranscodeResult {
  renditions: RenditionResult[];
  audio: { codec: string; bitrate: number; playlist: string } | null;
  masterKey: string;
  posterKey: string;
  storyboard: { spriteKey: string; vttKey: string };
  qualityReport: QualityReport;
  /** The renditions' duration, as players will see it. */
  durationSeconds: number;
}

export interface FinalizeResult extends TranscodeResult {
  kind: "finalize";
}

export type TaskResult = PlanResult | ChunkResult | AudioResult | FinalizeResult;

/* ------------------------------------------------------------------------------------------------
 * Callbacks: what the transcoder posts to a task's `callbackUrl`
 * --------------------------------------------------------------------------------------------- */

export type TaskEvent =
  /** 0–100 of this task; repeated every few seconds even without news (a heartbeat). */
  | { type: "progress"; percent: number }
  | { type: "done"; result: TaskResult }
  /**
   * `retryable`: running the task again may help (a crash, a stall, storage trouble); a refusal
   * of the source is not, and says why in words. `qualityReport` comes with a refusal.
   */
  | { type: "failed"; retryable: boolean; reason: string; qualityReport?: QualityReport };

export interface TaskCallback {
  jobId: string;
  videoId: string;
  taskId: string;
  kind: TranscodeTaskKind;
  attempt: number;
  event: TaskEvent;
}
