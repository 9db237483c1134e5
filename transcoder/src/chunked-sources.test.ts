import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkTask, runChunkedJob, taskEnvelope } from "../../scripts/lib/chunked-job.ts";
import { joinRendition, referencedKeys } from "../../scripts/lib/hls-outputs.ts";
import type { PlanResult, TranscodeTask } from "../../workers/transcoding/contract.ts";
import { ffmpeg, keyframeTimes, makeClip, makeTempDir, patchBytes, tools, videoFacts } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { JobFailure } from "./job-failure.ts";
import { defaultLadderOptions } from "./ladder.ts";
import type { TaskDependencies } from "./task-context.ts";
import { runTask } from "./tasks.ts";

/**
 * Sources of every shape through the chunked tasks, read from a local folder (the same demuxer
 * seeks as over HTTP ranges, faster): the ladder a viewer gets, previews, what is stored, and the
 * refusals and warnings the quality check gives, in words.
 */

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let storage: FsStorage;
let workRoot: string;

const deps = (overrides: Partial<TaskDependencies> = {}): TaskDependencies => ({
  storage,
  tools,
  workRoot,
  preset: "ultrafast",
  storyboard: { intervalSeconds: 2 },
  ...overrides,
});

const publish = (videoId: string, sourceKey = `masters/${videoId}/source`, chunkSeconds = 4, overrides: Partial<TaskDependencies> = {}) =>
  runChunkedJob({ videoId, sourceKey, chunkSeconds, concurrency: 2 }, deps(overrides));

const plan = (videoId: string, sourceKey = `masters/${videoId}/source`, chunkSeconds = 4) =>
  runTask(
    { ...taskEnvelope(videoId, sourceKey), kind: "plan", taskId: "plan", attempt: 1, attemptTag: "plan-a1-", chunkSeconds },
    deps(),
  ) as Promise<PlanResult>;

async function failureOf(promise: Promise<unknown>): Promise<JobFailure> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobFailure);
  return error as JobFailure;
}

/** Runs every chunk of a plan; returns the first failure. */
async function firstChunkFailure(
  planned: PlanResult,
  videoId: string,
  overrides: Partial<TaskDependencies> = {},
): Promise<JobFailure | null> {
  for (const chunk of planned.chunks) {
    const failure = await runTask(chunkTask(planned, videoId, `masters/${videoId}/source`, chunk.index), deps(overrides)).then(
      () => null,
      (error: unknown) => error as JobFailure,
    );
    if (failure) return failure;
  }
  return null;
}

const leftInWorkRoot = () => readdir(workRoot).catch(() => []);

beforeAll(async () => {
  temp = await makeTempDir("chunked-sources");
  storage = new FsStorage(join(temp.dir, "bucket"));
  workRoot = join(temp.dir, "work");
  const [landscape, portrait, plain, oddAudio, faststart, flagged, unflagged] = await Promise.all([
    makeClip(temp.dir, "landscape", { size: "640x360", seconds: 9, output: ["-g", "30"] }),
    makeClip(temp.dir, "portrait", { size: "360x640", seconds: 3, audio: false }),
    makeClip(temp.dir, "plain", { seconds: 3 }),
    makeClip(temp.dir, "odd-audio", { seconds: 2, container: "mkv" }),
    makeClip(temp.dir, "faststart", { seconds: 3, output: ["-movflags", "+faststart"] }),
    makeClip(temp.dir, "interlaced", {
      audio: false,
      rate: 50,
      filter: "interlace=scan=tff,setfield=tff",
      output: ["-flags", "+ildct+ilme", "-x264opts", "tff=1"],
    }),
    // Interlaced pictures coded as progressive frames: only idet can tell.
    makeClip(temp.dir, "interlaced-unflagged", { audio: false, rate: 50, seconds: 5, filter: "interlace=scan=tff" }),
  ]);
  await patchBytes(oddAudio, "A_AAC", "A_QQQ");
  const rotated = join(temp.dir, "rotated.mp4");
  const truncated = join(temp.dir, "truncated.mp4");
  await ffmpeg(["-v", "error", "-y", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated]);
  await writeFile(truncated, (await readFile(plain)).subarray(0, 60_000));
  // The index intact at the front, the frames stopping half-way.
  const faststartBytes = await readFile(faststart);
  await writeFile(join(temp.dir, "cut.mp4"), faststartBytes.subarray(0, Math.floor(faststartBytes.length / 2)));
  // Every header and packet in place, but the pictures are noise: only decoding finds out.
  const garbled = Buffer.from(faststartBytes);
  for (let index = garbled.indexOf("mdat") + 68; index < garbled.length; index++) garbled[index] = (index * 7919) & 0xff;
  await writeFile(join(temp.dir, "garbled.mp4"), garbled);
  const sources: [string, string][] = [
    ["landscape", landscape],
    ["portrait", portrait],
    ["rotated", rotated],
    ["truncated", truncated],
    ["odd-audio", oddAudio],
    ["cut", join(temp.dir, "cut.mp4")],
    ["garbled", join(temp.dir, "garbled.mp4")],
    ["interlaced", flagged],
    ["interlaced-unflagged", unflagged],
  ];
  await Promise.all(sources.map(([videoId, path]) => storage.upload(`masters/${videoId}/source`, path)));
}, 120_000);

afterAll(() => temp?.remove());

describe("a landscape source with audio, in three 3 s chunks", () => {
  let job: Awaited<ReturnType<typeof publish>>;
  const started: TranscodeTask["kind"][] = [];

  beforeAll(async () => {
    job = await runChunkedJob(
      {
        videoId: "landscape",
        sourceKey: "masters/landscape/source",
        chunkSeconds: 3,
        concurrency: 2,
        onTask: (task) => started.push(task.kind),
      },
      deps(),
    );
  }, 120_000);

  it("makes 240p and 360p, never above the source, with the audio as its own rendition", () => {
    expect(job.plan.chunks).toHaveLength(3);
    expect(started.sort()).toEqual(["audio", "chunk", "chunk", "chunk", "finalize", "plan"]);
    expect(job.result.renditions.map(({ name, width, height, frameRate }) => ({ name, width, height, frameRate }))).toEqual([
      { name: "240p", width: 426, height: 240, frameRate: 30 },
      { name: "360p", width: 640, height: 360, frameRate: 30 },
    ]);
    expect(job.result.renditions.every((r) => /^avc1\.[0-9a-f]{6}$/.test(r.codec) && r.bitrate > 0)).toBe(true);
    expect(job.result).toMatchObject({
      // Every name the finalize task writes carries its attempt's tag; publishing puts the master at master.m3u8.
      audio: { codec: "mp4a.40.2", playlist: "videos/landscape/hls/audio/finalize-a1-index.m3u8" },
      masterPlaylistKey: "videos/landscape/hls/finalize-a1-master.m3u8",
      posterKey: "videos/landscape/hls/finalize-a1-poster-640w.webp",
      storyboard: {
        spriteKey: "videos/landscape/hls/finalize-a1-storyboard.jpg",
        vttKey: "videos/landscape/hls/finalize-a1-storyboard.vtt",
      },
      qualityReport: { ok: true, warnings: [] },
    });
    expect(job.result.durationSeconds).toBeCloseTo(9, 1);
  });

  it("stores renditions that ffprobe reads at the planned size, the source's length, a keyframe at least every segment length", async () => {
    for (const rendition of job.result.renditions) {
      const joined = await joinRendition(storage, rendition.playlist, join(temp.dir, `joined-${rendition.name}.mp4`));
      const facts = await videoFacts(joined);
      expect({ width: facts.width, height: facts.height }).toEqual({ width: rendition.width, height: rendition.height });
      expect(Math.abs(facts.duration - 9)).toBeLessThan(1 / 30 + 1e-3);
      const keyframes = await keyframeTimes(joined);
      expect(keyframes[0]).toBeLessThanOrEqual(0.05);
      for (let i = 1; i < keyframes.length; i++)
        expect((keyframes[i] ?? 0) - (keyframes[i - 1] ?? 0)).toBeLessThanOrEqual(defaultLadderOptions.segmentSeconds + 0.05);
    }
  });

  it("writes a master playlist with BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE on every variant, and the audio group", async () => {
    const master = await readFile(storage.pathFor("videos/landscape/hls/master.m3u8"), "utf8");
    const variants = master.split("\n").filter((line) => line.startsWith("#EXT-X-STREAM-INF:"));
    expect(variants).toHaveLength(2);
    for (const variant of variants) {
      expect(variant).toMatch(
        /BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,RESOLUTION=\d+x\d+,FRAME-RATE=30\.000,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",AUDIO="group_audio"/,
      );
    }
    expect(master).toContain(
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/finalize-a1-index.m3u8"',
    );
    expect(master).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
  });

  it("stores a poster and a storyboard whose WebVTT points into the sprite, tile by tile", async () => {
    const vtt = await readFile(storage.pathFor(job.result.storyboard.vttKey), "utf8");
    expect(vtt.match(/finalize-a1-storyboard\.jpg#xywh=\d+,0,160,90/g)).toHaveLength(5);
    // The poster in every width up to the frame's: 320 and 640 for a 640x360 frame (WebP: Debian's ffmpeg has libwebp).
    expect(await videoFacts(storage.pathFor(job.result.posterKey))).toMatchObject({ width: 640, height: 360 });
    expect(await videoFacts(storage.pathFor("videos/landscape/hls/finalize-a1-poster-320w.webp"))).toMatchObject({
      width: 320,
      height: 180,
    });
  });

  it("stores exactly what the playlists reference, and leaves no temp files", async () => {
    expect(await storage.list("videos/landscape/")).toEqual(await referencedKeys(storage, "videos/landscape/hls/"));
    expect(await leftInWorkRoot()).toEqual([]);
  });
});

describe("other shapes of source", () => {
  it("keeps a portrait source upright, with a ladder on its short side and video-only variants", async () => {
    const { result, audio } = await publish("portrait");
    expect(result.renditions.map((r) => [r.name, r.width, r.height])).toEqual([
      ["240p", 240, 426],
      ["360p", 360, 640],
    ]);
    expect(audio).toBeNull();
    expect(result.audio).toBeNull();
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["no-audio"]);
    const master = await readFile(storage.pathFor("videos/portrait/hls/master.m3u8"), "utf8");
    expect(master).not.toContain("AUDIO=");
    expect(master).not.toContain("mp4a");
    const joined = await joinRendition(storage, result.renditions[1]?.playlist as string, join(temp.dir, "portrait.mp4"));
    expect(await videoFacts(joined)).toMatchObject({ width: 360, height: 640 });
  });

  it("turns a rotated source upright, with no rotation left in the output", async () => {
    const { result } = await publish("rotated");
    expect(result.renditions.map((r) => [r.width, r.height])).toEqual([[240, 320]]);
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["rotated"]);
    const joined = await joinRendition(storage, result.renditions[0]?.playlist as string, join(temp.dir, "rotated-out.mp4"));
    expect(await videoFacts(joined)).toMatchObject({ width: 240, height: 320, rotation: null });
  });

  it("makes a silent video of a source whose audio codec ffmpeg does not know, and says so", async () => {
    const { result } = await publish("odd-audio");
    expect(result.audio).toBeNull();
    expect(result.renditions.map((r) => r.name)).toEqual(["240p"]);
    expect(result.qualityReport.warnings).toEqual([
      {
        code: "no-audio",
        message: "audio codec is not supported, so the video will play silently; export the audio as AAC to keep it",
      },
    ]);
  });
});

describe("interlacing, decided by the plan for every chunk", () => {
  it("deinterlaces a source its encoder flagged interlaced", async () => {
    const { plan: planned, result } = await publish("interlaced");
    expect(planned.encode.ladder.deinterlace).toBe(true);
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["interlaced", "no-audio"]);
  });

  it("deinterlaces a source whose flags say progressive when idet sees interlacing", async () => {
    const { plan: planned, result } = await publish("interlaced-unflagged");
    expect(planned.encode.interlace?.topFieldFirst).toBeGreaterThan(100);
    expect(planned.encode.ladder.deinterlace).toBe(true);
    expect(result.qualityReport.source?.interlaced).toBe(true);
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["interlaced", "no-audio"]);
  });
});

describe("refusals, in words, storing nothing", () => {
  it("refuses a truncated faststart source in the chunk where its frames stop", async () => {
    const failure = await firstChunkFailure(await plan("cut"), "cut");
    expect(failure?.retryable).toBe(false);
    expect(failure?.message).toMatch(/^file is truncated at \d\.\d s of 3\.0 s; upload the complete file again$/);
    expect(failure?.qualityReport).toMatchObject({ ok: false, refusal: failure?.message });
    expect(await storage.list("videos/cut/")).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("refuses a source whose pictures do not decode", async () => {
    const failure = await firstChunkFailure(await plan("garbled"), "garbled");
    expect(failure?.retryable).toBe(false);
    expect(failure?.message).toMatch(/^file is unreadable: .+; export the video again and upload the new file$/);
    expect(await storage.list("videos/garbled/")).toEqual([]);
  });

  it("refuses a file cut before its index, which cannot even be probed", async () => {
    const failure = await failureOf(plan("truncated"));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe(
      "file is unreadable: invalid data found when processing input; upload a video file such as MP4, MOV, MKV or WebM",
    );
    expect(failure.qualityReport?.ok).toBe(false);
  });

  it("kills a stalled ffmpeg and fails as retryable, cleaning up", async () => {
    const planned = await plan("landscape");
    const failure = await failureOf(
      runTask(chunkTask(planned, "landscape", "masters/landscape/source", 0, 9), deps({ stallTimeoutMs: 1 })),
    );
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(/^ffmpeg made no progress for \d+ s and was stopped$/);
    expect((await storage.list("videos/landscape/")).filter((key) => key.includes("c0000-a9-"))).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });
});
