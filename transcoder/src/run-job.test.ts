import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinRendition, referencedKeys } from "../../scripts/lib/hls-outputs.ts";
import { ffmpeg, ffprobeJson, keyframeTimes, makeClip, makeTempDir, patchBytes, tools, videoFacts } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { type JobDependencies, JobFailure, type JobProgress, type JobResult, runJob, type TranscodeJob } from "./run-job.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let storage: FsStorage;
let workRoot: string;

beforeAll(async () => {
  temp = await makeTempDir("job");
  storage = new FsStorage(join(temp.dir, "bucket"));
  workRoot = join(temp.dir, "work");
  const [landscape, portrait, plain, oddAudio, faststart, flagged, unflagged] = await Promise.all([
    makeClip(temp.dir, "landscape", { size: "640x360", seconds: 9 }),
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
    // Interlaced pictures coded as progressive frames: only idet, in the ladder run, can tell.
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
  await Promise.all([
    storage.upload("uploads/landscape/source.mp4", landscape),
    // No extension, like the Worker's `masters/{id}/source`: ffmpeg goes by the content.
    storage.upload("masters/portrait/source", portrait),
    storage.upload("uploads/rotated/source.mp4", rotated),
    storage.upload("uploads/truncated/source.mp4", truncated),
    storage.upload("uploads/odd-audio/source.mkv", oddAudio),
    storage.upload("uploads/cut/source.mp4", join(temp.dir, "cut.mp4")),
    storage.upload("uploads/garbled/source.mp4", join(temp.dir, "garbled.mp4")),
    storage.upload("uploads/interlaced/source.mp4", flagged),
    storage.upload("uploads/interlaced-unflagged/source.mp4", unflagged),
  ]);
});

afterAll(() => temp?.remove());

const jobFor = (videoId: string, overrides: Partial<TranscodeJob> = {}): TranscodeJob => ({
  jobId: `job-${videoId}`,
  videoId,
  sourceKey: `uploads/${videoId}/source.mp4`,
  outputPrefix: `videos/${videoId}/hls/`,
  ...overrides,
});

const deps = (overrides: Partial<JobDependencies> = {}): JobDependencies => ({
  storage,
  tools,
  workRoot,
  storyboard: { intervalSeconds: 2 },
  ...overrides,
});

async function failureOf(promise: Promise<unknown>): Promise<JobFailure> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobFailure);
  return error as JobFailure;
}

const leftInWorkRoot = () => readdir(workRoot).catch(() => []);

describe("a landscape source with audio", () => {
  let result: JobResult;
  const progress: JobProgress[] = [];

  beforeAll(async () => {
    result = await runJob(jobFor("landscape"), deps({ onProgress: (p) => progress.push(p) }));
  });

  it("makes 240p and 360p, never above the source", () => {
    expect(result.renditions.map(({ name, width, height, frameRate }) => ({ name, width, height, frameRate }))).toEqual([
      { name: "240p", width: 426, height: 240, frameRate: 30 },
      { name: "360p", width: 640, height: 360, frameRate: 30 },
    ]);
    expect(result.renditions.map((r) => r.playlist)).toEqual([
      "videos/landscape/hls/240p/index.m3u8",
      "videos/landscape/hls/360p/index.m3u8",
    ]);
    expect(result.renditions.every((r) => /^avc1\.64[0-9a-f]{4}$/.test(r.codec) && r.bitrate > 0)).toBe(true);
    expect(result.audio).toMatchObject({ codec: "mp4a.40.2", playlist: "videos/landscape/hls/audio/index.m3u8" });
    expect(result).toMatchObject({
      masterKey: "videos/landscape/hls/master.m3u8",
      posterKey: "videos/landscape/hls/poster.jpg",
      storyboard: { spriteKey: "videos/landscape/hls/storyboard.jpg", vttKey: "videos/landscape/hls/storyboard.vtt" },
      qualityReport: { ok: true, warnings: [] },
    });
    expect(result.durationSeconds).toBeCloseTo(9, 0);
  });

  it("stores renditions that ffprobe reads at the planned size, within half a second of the source", async () => {
    for (const rendition of result.renditions) {
      const joined = await joinRendition(storage, rendition.playlist, join(temp.dir, `joined-${rendition.name}.mp4`));
      const facts = await videoFacts(joined);
      expect({ width: facts.width, height: facts.height }).toEqual({ width: rendition.width, height: rendition.height });
      expect(Math.abs(facts.duration - 9)).toBeLessThan(0.5);
    }
  });

  it("puts a keyframe at every 4 s segment boundary in every rendition", async () => {
    for (const rendition of result.renditions) {
      const times = await keyframeTimes(join(temp.dir, `joined-${rendition.name}.mp4`));
      const start = times[0] as number;
      expect(times.map((t) => Math.round((t - start) * 100) / 100)).toEqual([0, 4, 8]);
      const playlist = await readFile(storage.pathFor(rendition.playlist), "utf8");
      expect(playlist).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
      expect([...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]))).toEqual([4, 4, 1]);
    }
  });

  it("writes a master playlist with BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE on every variant", async () => {
    const master = await readFile(storage.pathFor(result.masterKey), "utf8");
    const variants = master.split("\n").filter((line) => line.startsWith("#EXT-X-STREAM-INF:"));
    expect(variants).toHaveLength(2);
    for (const [index, line] of variants.entries()) {
      const rendition = result.renditions[index];
      expect(line).toMatch(/BANDWIDTH=\d+/);
      expect(line).toContain(`RESOLUTION=${rendition?.width}x${rendition?.height}`);
      expect(line).toContain(`CODECS="${rendition?.codec},mp4a.40.2"`);
      expect(line).toContain("FRAME-RATE=30.000");
      expect(line).toMatch(/AUDIO="[^"]+"/);
    }
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,.*URI="audio\/index.m3u8"/);
  });

  it("stores a poster and a storyboard whose WebVTT points into the sprite", async () => {
    const poster = await ffprobeJson(storage.pathFor(result.posterKey), ["-show_entries", "stream=codec_name,width,height"]);
    expect(poster.streams).toEqual([{ codec_name: "mjpeg", width: 640, height: 360 }]);
    const sprite = await ffprobeJson(storage.pathFor(result.storyboard.spriteKey), ["-show_entries", "stream=width,height"]);
    expect(sprite.streams).toEqual([{ width: 800, height: 90 }]);
    const vtt = await readFile(storage.pathFor(result.storyboard.vttKey), "utf8");
    expect(vtt.startsWith("WEBVTT\n")).toBe(true);
    expect(vtt).toContain("00:00:08.000 --> 00:00:09.000\nstoryboard.jpg#xywh=640,0,160,90");
    expect(vtt.match(/storyboard\.jpg#xywh=/g)).toHaveLength(5);
  });

  it("stores exactly what the playlists reference", async () => {
    expect(await storage.list("videos/landscape/")).toEqual(await referencedKeys(storage, "videos/landscape/hls/"));
  });

  it("reports each stage's progress in order and leaves no temp files", async () => {
    const stages = progress.map((p) => p.stage).filter((stage, index, all) => stage !== all[index - 1]);
    expect(stages).toEqual(["checking", "transcoding", "uploading"]);
    expect(progress.at(-1)).toEqual({ stage: "uploading", percent: 100 });
    expect(progress.every((p) => Number.isInteger(p.percent) && p.percent >= 0 && p.percent <= 100)).toBe(true);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("yields one set of outputs when the job is delivered again, removing what was there", async () => {
    const before = await storage.list("videos/landscape/");
    await storage.upload("videos/landscape/hls/999p/seg_00099.m4s", storage.pathFor(result.posterKey));
    const again = await runJob(jobFor("landscape"), deps());
    expect(again.renditions.map((r) => r.name)).toEqual(["240p", "360p"]);
    expect(await storage.list("videos/landscape/")).toEqual(before);
  });
});

describe("other shapes of source", () => {
  it("keeps a portrait source upright, with a ladder on its short side and video-only variants", async () => {
    const result = await runJob(jobFor("portrait", { sourceKey: "masters/portrait/source" }), deps());
    expect(result.renditions.map((r) => [r.name, r.width, r.height])).toEqual([
      ["240p", 240, 426],
      ["360p", 360, 640],
    ]);
    expect(result.audio).toBeNull();
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["no-audio"]);
    const master = await readFile(storage.pathFor(result.masterKey), "utf8");
    expect(master).not.toContain("AUDIO=");
    expect(master).not.toContain("mp4a");
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6}"/);
    const joined = await joinRendition(storage, result.renditions[1]?.playlist as string, join(temp.dir, "portrait.mp4"));
    expect(await videoFacts(joined)).toMatchObject({ width: 360, height: 640 });
  });

  it("turns a rotated source upright, with no rotation left in the output", async () => {
    const result = await runJob(jobFor("rotated"), deps());
    expect(result.renditions.map((r) => [r.width, r.height])).toEqual([[240, 320]]);
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["rotated"]);
    const joined = await joinRendition(storage, result.renditions[0]?.playlist as string, join(temp.dir, "rotated-out.mp4"));
    expect(await videoFacts(joined)).toMatchObject({ width: 240, height: 320, rotation: null });
  });

  it("makes a silent video of a source whose audio codec ffmpeg does not know", async () => {
    const result = await runJob(jobFor("odd-audio", { sourceKey: "uploads/odd-audio/source.mkv" }), deps());
    expect(result.audio).toBeNull();
    expect(result.renditions.map((r) => r.name)).toEqual(["240p"]);
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["no-audio"]);
  });
});

describe("interlacing, decided before the encode and checked by it", () => {
  it("deinterlaces a source its encoder flagged interlaced, in one ladder run", async () => {
    const lines: string[] = [];
    const result = await runJob(jobFor("interlaced"), deps({ log: (line) => lines.push(line) }));
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["interlaced", "no-audio"]);
    expect(lines.filter((line) => line.startsWith("transcoding to"))).toHaveLength(1);
  });

  it("encodes the ladder again, deinterlaced, when idet finds interlacing the flags did not say", async () => {
    const lines: string[] = [];
    const progress: JobProgress[] = [];
    const result = await runJob(
      jobFor("interlaced-unflagged"),
      deps({ log: (line) => lines.push(line), onProgress: (p) => progress.push(p) }),
    );
    expect(result.qualityReport.warnings.map((w) => w.code)).toEqual(["interlaced", "no-audio"]);
    expect(result.qualityReport.source?.interlaced).toBe(true);
    expect(lines).toContain("idet found the source interlaced, unlike its flags; encoding the ladder again");
    expect(lines.filter((line) => line.startsWith("transcoding to"))).toHaveLength(2);
    // Only the second run's outputs are stored.
    expect(await storage.list("videos/interlaced-unflagged/")).toEqual(await referencedKeys(storage, "videos/interlaced-unflagged/hls/"));
    expect(progress.at(-1)).toEqual({ stage: "uploading", percent: 100 });
  });
});

describe("failures", () => {
  it("refuses a truncated faststart source before encoding anything", async () => {
    const progress: JobProgress[] = [];
    const failure = await failureOf(runJob(jobFor("cut"), deps({ onProgress: (p) => progress.push(p) })));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/^file is truncated at \d\.\d s of 3\.0 s; upload the complete file again$/);
    expect(failure.qualityReport).toMatchObject({ ok: false, refusal: failure.message });
    expect(progress.map((p) => p.stage)).not.toContain("transcoding");
    expect(await storage.list("videos/cut/")).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("refuses a source whose pictures do not decode, found by the ladder run, storing nothing", async () => {
    // An earlier attempt's leftovers must go too.
    await storage.upload("videos/garbled/hls/240p/seg_00000.m4s", join(temp.dir, "plain.mp4"));
    const failure = await failureOf(runJob(jobFor("garbled"), deps()));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/^file is unreadable: .+; export the video again and upload the new file$/);
    expect(failure.qualityReport).toMatchObject({ ok: false, refusal: failure.message });
    expect(await storage.list("videos/garbled/")).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("fails a refused source for good, with the sentence and the report, storing nothing", async () => {
    const failure = await failureOf(runJob(jobFor("truncated"), deps()));
    expect(failure.retryable).toBe(false);
    // Cut before its index (not faststart), the file cannot even be probed.
    expect(failure.message).toBe(
      "file is unreadable: invalid data found when processing input; upload a video file such as MP4, MOV, MKV or WebM",
    );
    expect(failure.qualityReport?.ok).toBe(false);
    expect(await storage.list("videos/truncated/")).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("fails for good when the source is missing", async () => {
    const failure = await failureOf(runJob(jobFor("nobody"), deps()));
    expect(failure).toMatchObject({
      retryable: false,
      message: "the source file is missing from storage (uploads/nobody/source.mp4); upload it again",
    });
  });

  it("refuses a job whose outputs would overwrite its source", async () => {
    const failure = await failureOf(runJob(jobFor("landscape", { outputPrefix: "uploads/landscape" }), deps()));
    expect(failure.retryable).toBe(false);
    expect(await storage.list("uploads/landscape/")).toEqual(["uploads/landscape/source.mp4"]);
  });

  it("kills a stalled ffmpeg and fails as retryable, cleaning up", async () => {
    const failure = await failureOf(runJob(jobFor("landscape", { outputPrefix: "videos/stalled/" }), deps({ stallTimeoutMs: 1 })));
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(/^ffmpeg made no progress for \d+ s and was stopped$/);
    expect(await leftInWorkRoot()).toEqual([]);
  });

  it("stops when cancelled mid-transcode and fails as retryable", async () => {
    const controller = new AbortController();
    const failure = await failureOf(
      runJob(
        jobFor("landscape", { outputPrefix: "videos/cancelled/" }),
        deps({ signal: controller.signal, onProgress: (p) => p.stage === "transcoding" && controller.abort() }),
      ),
    );
    expect(failure).toMatchObject({ retryable: true, message: "the job was cancelled" });
    expect(await storage.list("videos/cancelled/")).toEqual([]);
    expect(await leftInWorkRoot()).toEqual([]);
  });
});
