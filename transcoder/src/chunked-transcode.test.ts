import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChunkedJob, chunkTask, runChunkedJob, taskEnvelope } from "../../scripts/lib/chunked-job.ts";
import {
  beepTimes,
  endOf,
  flashTimes,
  joinRendition,
  makeSyncMarkedSource,
  type Packet,
  packetsOf,
  referencedKeys,
} from "../../scripts/lib/hls-outputs.ts";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import type { ChunkResult, PlanResult, TranscodeTask } from "../../workers/transcoding/contract.ts";
import { ffmpeg, ffprobeJson, makeClip, makeTempDir, tools } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { HttpStorage } from "./http-storage.ts";
import { JobFailure } from "./job-failure.ts";
import type { TaskDependencies } from "./task-context.ts";
import { runTask } from "./tasks.ts";

/**
 * A feature film in miniature, transcoded the way production does it: a generated 1080p30 source
 * with audio, 50 s long, cut into ranges of about 10 s (five chunks, each reading only its range of
 * the master over HTTP), the audio encoded once, and the finalize task joining the chunks. The
 * checks are what a viewer would notice: every rung as long as the source with the same frames,
 * no timestamp gap where two chunks meet, the audio in step with the picture at the end, and
 * nothing stored that no playlist references. x264's `ultrafast` keeps it to a minute on two
 * cores; none of these properties depends on the preset.
 */

const SECONDS = 50;
const FPS = 30;
/** Instants of the source's sync marks (flash and beep together). */
const SYNC_MARKS = [2, 48];
const CHUNK_SECONDS = 10;
const token = "storage-grant";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bucket: FsStorage;
let server: StorageServer;
let storage: HttpStorage;
let masterBytes: number;

const deps = (overrides: Partial<TaskDependencies> = {}): TaskDependencies => ({
  storage,
  tools,
  workRoot: join(temp.dir, "work"),
  preset: "ultrafast",
  ...overrides,
});

beforeAll(async () => {
  temp = await makeTempDir("chunked");
  bucket = new FsStorage(join(temp.dir, "bucket"));
  server = await startStorageServer(bucket, { token });
  storage = new HttpStorage(server.baseUrl, token);
  // A keyframe every 1.5 s, as a camera or an editor exports: the ranges start at 0, 9, 19.5, 30
  // and 39 s, so chunks are of different lengths and end on partial segments. The index (moov)
  // is at the end of the file, so every reader seeks there first. Sync marks: a white flash and a
  // 1 kHz beep together at 2 s and at 48 s (silence otherwise).
  const master = await makeSyncMarkedSource(join(temp.dir, "feature.mp4"), { seconds: SECONDS, fps: FPS, marks: SYNC_MARKS });
  await bucket.upload("masters/feature/source", master);
  masterBytes = (await bucket.size("masters/feature/source")) ?? 0;
}, 120_000);

afterAll(async () => {
  await server?.close();
  await temp?.remove();
});

describe("a 50 s 1080p master in five chunks", () => {
  let job: ChunkedJob;
  /** What each task read of the master. */
  const read = new Map<string, number>();
  const abandoned = "c0002-a1-";

  beforeAll(async () => {
    const prefix = "videos/feature/hls/";
    const masterKey = "masters/feature/source";
    // A scratch quota smaller than the master: no task may need the whole of it on disk.
    const quota = Math.floor(masterBytes / 2);
    let before = 0;
    // What a SIGKILLed first attempt of chunk 2 left behind (chunk 2 runs as attempt 2); the
    // finalize task must sweep it.
    await writeFile(join(temp.dir, "leftover"), "half a segment");
    await bucket.upload(`${prefix}720p/${abandoned}00000.m4s`, join(temp.dir, "leftover"));
    job = await runChunkedJob(
      {
        videoId: "feature",
        sourceKey: masterKey,
        chunkSeconds: CHUNK_SECONDS,
        attempts: { 2: 2 },
        onTask: () => {
          before = server.bytesRead.get(masterKey) ?? 0;
        },
        afterTask: (task: TranscodeTask) => read.set(task.taskId, (server.bytesRead.get(masterKey) ?? 0) - before),
      },
      deps({ scratchQuotaBytes: quota }),
    );
  }, 300_000);

  it("plans five keyframe-aligned ranges that cover the title", () => {
    expect(masterBytes).toBeGreaterThan(40 * 1024 ** 2);
    expect(job.plan.chunks.map((chunk) => [chunk.startSeconds, chunk.endPts === null ? null : chunk.endSeconds])).toEqual([
      [0, 9],
      [9, 19.5],
      [19.5, 30],
      [30, 39],
      [39, null],
    ]);
    expect(job.plan.encode.ladder.renditions.map((rendition) => rendition.name)).toEqual(["240p", "360p", "480p", "720p", "1080p"]);
  });

  it("reads only its own range of the master in each chunk, and never the whole master in the plan", async () => {
    // Where each range's first keyframe lies in the file.
    const { packets } = await ffprobeJson(bucket.pathFor("masters/feature/source"), [
      "-select_streams",
      "v:0",
      "-show_entries",
      "packet=pts,pos",
    ]);
    const position = new Map((packets as { pts: string; pos: string }[]).map((packet) => [Number(packet.pts), Number(packet.pos)]));
    const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
    for (const chunk of job.plan.chunks) {
      const range = (chunk.endPts === null ? masterBytes : (position.get(chunk.endPts) ?? 0)) - (position.get(chunk.startPts) ?? 0);
      const got = read.get(`chunk-${chunk.index}`) ?? 0;
      // Its range, plus the index at the end of the file and what each connection (the first
      // read, the index, the range) had in flight when ffmpeg moved on or stopped.
      const what = `chunk ${chunk.index} read ${mib(got)} for a range of ${mib(range)} (master ${mib(masterBytes)})`;
      expect(got, what).toBeGreaterThanOrEqual(range);
      expect(got, what).toBeLessThan(range + 16 * 1024 ** 2);
    }
    // The plan: the index, idet's three 40-frame windows and one packet at each boundary, each
    // open of the file reading ahead a few MiB on loopback. It does not grow with the title.
    const plan = read.get("plan") ?? 0;
    expect(plan, `the plan read ${mib(plan)} of ${mib(masterBytes)}`).toBeLessThan(0.75 * masterBytes);
  });

  it("makes every rung exactly as long as the source, with the same frames, and no gap where chunks meet", async () => {
    for (const rendition of job.result.renditions) {
      const joined = await joinRendition(bucket, rendition.playlist, join(temp.dir, `feature-${rendition.name}.mp4`));
      const video = await packetsOf(joined, "v:0");
      expect(video.packets, rendition.name).toHaveLength(SECONDS * FPS);
      const frame = video.timescale / FPS;
      const steps = video.packets.slice(1).map((packet, index) => packet.pts - (video.packets[index] as Packet).pts);
      expect(new Set(steps), `${rendition.name}: distinct steps between frames`).toEqual(new Set([frame]));
      expect(Math.abs(endOf(video) - SECONDS), rendition.name).toBeLessThanOrEqual(1 / FPS);
    }
  });

  it("keeps the audio, encoded once, in step with the picture to the end", async () => {
    expect(job.result.audio).toMatchObject({ codec: "mp4a.40.2", playlist: "videos/feature/hls/audio/finalize-a1-index.m3u8" });
    const audioPath = await joinRendition(bucket, "videos/feature/hls/audio/finalize-a1-index.m3u8", join(temp.dir, "audio.mp4"));
    const audio = await packetsOf(audioPath, "a:0");
    expect(Math.abs(endOf(audio) - SECONDS)).toBeLessThan(0.1);
    // Where a viewer sees each flash and hears each beep: the same instant, within 40 ms.
    const flashes = await flashTimes(join(temp.dir, "feature-240p.mp4"));
    const beeps = await beepTimes(audioPath);
    expect(flashes.map(Math.round)).toEqual(SYNC_MARKS);
    expect(beeps.map(Math.round)).toEqual(SYNC_MARKS);
    SYNC_MARKS.forEach((_, index) => {
      expect(Math.abs((flashes[index] as number) - (beeps[index] as number)), `drift at ${SYNC_MARKS[index]} s`).toBeLessThan(0.04);
    });
  });

  it("joins each rung under one init segment, without discontinuities, in a master that lists every rung", async () => {
    const master = await readFile(bucket.pathFor("videos/feature/hls/master.m3u8"), "utf8");
    expect(master.match(/RESOLUTION=\d+x\d+/g)).toEqual([
      "RESOLUTION=426x240",
      "RESOLUTION=640x360",
      "RESOLUTION=854x480",
      "RESOLUTION=1280x720",
      "RESOLUTION=1920x1080",
    ]);
    expect(master).toContain('URI="audio/finalize-a1-index.m3u8"');
    for (const rendition of job.result.renditions) {
      const playlist = await readFile(bucket.pathFor(rendition.playlist), "utf8");
      expect(playlist.match(/#EXT-X-MAP:/g)).toHaveLength(1);
      expect(playlist).not.toContain("DISCONTINUITY");
      expect(playlist.match(/#EXTINF:/g)?.length).toBe(
        job.chunks.reduce((sum, chunk) => sum + (chunk.renditions[0]?.segments.length ?? 0), 0),
      );
    }
    // Every chunk's init segment is chunk 0's, byte for byte.
    for (const name of job.result.renditions.map((rendition) => rendition.name)) {
      expect(new Set(job.chunks.map((chunk) => chunk.renditions.find((r) => r.name === name)?.initSha256)).size).toBe(1);
    }
  });

  it("stores exactly what the playlists reference, previews included: tiles and leftovers are swept", async () => {
    const stored = await bucket.list("videos/feature/");
    expect(stored).toEqual(await referencedKeys(bucket, "videos/feature/hls/"));
    expect(stored.some((key) => key.includes(abandoned))).toBe(false);
    expect(job.result).toMatchObject({
      posterKey: expect.stringMatching(/^videos\/feature\/hls\/finalize-a1-poster-\d+w\.webp$/),
      durationSeconds: SECONDS,
    });
    const vtt = await readFile(bucket.pathFor(job.result.storyboard.vttKey), "utf8");
    expect(vtt.match(/finalize-a1-storyboard\.jpg#xywh=/g)).toHaveLength(SECONDS / 5);
    const sprite = await ffprobeJson(bucket.pathFor(job.result.storyboard.spriteKey), ["-show_entries", "stream=width,height"]);
    expect((sprite.streams as { width: number; height: number }[])[0]).toEqual({ width: 1600, height: 90 });
  });

  it("concludes the quality report over the whole title", () => {
    expect(job.result.qualityReport).toMatchObject({
      ok: true,
      warnings: [],
      source: { width: 1920, height: 1080, fps: FPS, hasAudio: true, interlaced: false, variableFrameRate: false },
    });
  });
});

describe("a chunk attempt", () => {
  let plan: PlanResult;

  beforeAll(async () => {
    await bucket.upload("masters/retry/source", bucket.pathFor("masters/feature/source"));
    plan = (await runTask(
      {
        ...taskEnvelope("retry", "masters/retry/source"),
        kind: "plan",
        taskId: "plan",
        attempt: 1,
        attemptTag: "p-",
        chunkSeconds: CHUNK_SECONDS,
      },
      deps(),
    )) as PlanResult;
  }, 60_000);

  it("that fails takes back what it stored, and only that; its retry encodes only itself", async () => {
    // Another chunk's outputs are already there.
    const other = (await runTask(chunkTask(plan, "retry", "masters/retry/source", 0), deps())) as ChunkResult;
    const othersKeys = await bucket.list("videos/retry/");
    expect(othersKeys.length).toBeGreaterThan(0);

    const cancel = new AbortController();
    const putsBefore = server.puts();
    const watching = setInterval(() => server.puts() >= putsBefore + 3 && cancel.abort(), 20);
    const failure = await runTask(chunkTask(plan, "retry", "masters/retry/source", 1, 1), deps({ signal: cancel.signal })).then(
      () => null,
      (error: unknown) => error,
    );
    clearInterval(watching);
    expect(failure).toBeInstanceOf(JobFailure);
    expect(failure).toMatchObject({ retryable: true, message: "the job was cancelled" });
    expect(await bucket.list("videos/retry/")).toEqual(othersKeys);

    const retried = (await runTask(chunkTask(plan, "retry", "masters/retry/source", 1, 2), deps())) as ChunkResult;
    expect(retried.renditions[0]?.segments.every((segment) => segment.key.includes("/c0001-a2-"))).toBe(true);
    expect(retried.renditions[0]?.startTicks).toBe(
      (other.renditions[0]?.startTicks ?? 0) + (other.renditions[0]?.segments.reduce((sum, segment) => sum + segment.ticks, 0) ?? 0),
    );
  }, 120_000);

  it("that cannot fit the scratch disk is refused before it starts, saying what it needs", async () => {
    const failure = await runTask(chunkTask(plan, "retry", "masters/retry/source", 2), deps({ scratchQuotaBytes: 8 * 1024 ** 2 })).then(
      () => null,
      (error: unknown) => error as JobFailure,
    );
    expect(failure).toBeInstanceOf(JobFailure);
    expect(failure?.retryable).toBe(false);
    expect(failure?.message).toMatch(
      /^not enough scratch disk: this task needs up to [\d.]+ MiB of scratch disk \(11 s of 5 renditions at up to [\d.]+ Mbit\/s together\), more than the 8\.0 MiB this transcoder has; use shorter chunks/,
    );
  });
  it("whose master cannot be read fails as retryable, not as a refusal of the file", async () => {
    // A grant the storage no longer accepts: ffmpeg does not reconnect on a 4xx, so this fails at once.
    server.failNext(10_000, 403);
    const failure = await runTask(chunkTask(plan, "retry", "masters/retry/source", 2, 3), deps()).then(
      () => null,
      (error: unknown) => error as JobFailure,
    );
    server.failNext(0);
    expect(failure).toBeInstanceOf(JobFailure);
    expect(failure?.retryable).toBe(true);
    expect(failure?.message).toMatch(/^ffmpeg failed: .*403/);
    expect((await bucket.list("videos/retry/")).filter((key) => key.includes("c0002-a3-"))).toEqual([]);
  });
});

describe("the plan and the chunks refuse what cannot be published, in words", () => {
  const plan = (videoId: string, sourceKey: string, limits?: TranscodeTask["limits"]) =>
    runTask(
      { ...taskEnvelope(videoId, sourceKey), kind: "plan", taskId: "plan", attempt: 1, attemptTag: "p-", chunkSeconds: 5, limits },
      deps(),
    );
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => error as JobFailure,
    );

  it("refuses an audio-only file, a picture above the limit and a missing master", async () => {
    const audioOnly = join(temp.dir, "audio-only.m4a");
    await ffmpeg(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", audioOnly]);
    await bucket.upload("masters/audio-only/source", audioOnly);
    expect(await failureOf(plan("audio-only", "masters/audio-only/source"))).toMatchObject({
      retryable: false,
      message: "no video stream: the file holds only audio",
      qualityReport: { ok: false, refusal: "no video stream: the file holds only audio" },
    });
    expect(await failureOf(plan("feature", "masters/feature/source", { maxWidth: 1280, maxHeight: 720 }))).toMatchObject({
      retryable: false,
      message: "1920x1080 is larger than the 1280x720 limit",
    });
    expect(await failureOf(plan("gone", "masters/gone/source"))).toMatchObject({
      retryable: false,
      message: "the source file is missing from storage (masters/gone/source); upload it again",
    });
  });

  it("finds a master truncated in the middle in the chunk where its data stops", async () => {
    // The index intact at the front (faststart), the frames stopping at about 10 s of 20.
    const whole = await makeClip(temp.dir, "cut-source", { size: "320x240", seconds: 20, output: ["-g", "30", "-movflags", "+faststart"] });
    const bytes = await readFile(whole);
    await writeFile(join(temp.dir, "cut.mp4"), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await bucket.upload("masters/cut/source", join(temp.dir, "cut.mp4"));
    const planned = (await plan("cut", "masters/cut/source")) as PlanResult;
    // No keyframe is found past the cut, so the last range starts before it.
    expect(planned.chunks.length).toBeGreaterThanOrEqual(2);
    const failures: JobFailure[] = [];
    for (const chunk of planned.chunks) {
      const failure = await failureOf(runTask(chunkTask(planned, "cut", "masters/cut/source", chunk.index), deps()));
      if (failure) failures.push(failure);
    }
    const first = failures[0];
    expect(first?.retryable).toBe(false);
    const at = Number(/^file is truncated at ([\d.]+) s of 20\.0 s; upload the complete file again$/.exec(first?.message ?? "")?.[1]);
    expect(at).toBeGreaterThan(8);
    expect(at).toBeLessThan(12);
  }, 120_000);
});
