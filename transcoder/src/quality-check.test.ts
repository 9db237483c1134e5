import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ffmpeg, makeClip, makeTempDir, patchBytes, tools } from "../test/clips.ts";
import { checkQuality, checkSource, type QualityReport } from "./quality-check.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
const clips: Record<string, string> = {};

beforeAll(async () => {
  temp = await makeTempDir("quality");
  const dir = temp.dir;
  const made = await Promise.all([
    makeClip(dir, "clean"),
    makeClip(dir, "faststart", { seconds: 4, output: ["-movflags", "+faststart"] }),
    makeClip(dir, "no-audio", { audio: false }),
    makeClip(dir, "one-frame", { audio: false, output: ["-frames:v", "1"] }),
    makeClip(dir, "unknown-codec", { audio: false }),
    makeClip(dir, "unknown-audio", { container: "mkv" }),
    makeClip(dir, "gap", { audio: false, filter: "select='not(between(n,40,60))'", output: ["-fps_mode", "passthrough"] }),
    makeClip(dir, "vfr", {
      audio: false,
      container: "mkv",
      // Every third frame 12 ms late: intervals of 21, 33 and 46 ms, the way phones record.
      filter: "settb=1/1000,setpts='(N/30+if(mod(N,3),0,0.012))/TB'",
      output: ["-fps_mode", "passthrough", "-enc_time_base", "1:1000"],
    }),
    makeClip(dir, "interlaced", {
      audio: false,
      rate: 50,
      filter: "interlace=scan=tff,setfield=tff",
      output: ["-flags", "+ildct+ilme", "-x264opts", "tff=1"],
    }),
    // Interlaced pictures coded as progressive frames: only idet can tell.
    makeClip(dir, "interlaced-unflagged", { audio: false, rate: 50, seconds: 5, filter: "interlace=scan=tff" }),
    makeClip(dir, "low-bitrate", { audio: false, output: ["-b:v", "12k", "-maxrate", "12k", "-bufsize", "24k"] }),
    makeClip(dir, "seven-hours", {
      audio: false,
      size: "160x120",
      rate: 1,
      seconds: 2,
      container: "mkv",
      // Two frames, the second stamped at 7 h: a file that claims to be longer than the limit.
      filter: "settb=1/1000,setpts='if(eq(N,0),0,25200/TB)'",
      output: ["-fps_mode", "passthrough", "-enc_time_base", "1:1000"],
    }),
  ]);
  for (const path of made) clips[path.slice(dir.length + 1).replace(/\.\w+$/, "")] = path;

  clips.audioOnly = join(dir, "audio-only.m4a");
  clips.huge = join(dir, "huge.mkv");
  clips.rotated = join(dir, "rotated.mp4");
  clips.random = join(dir, "random.mp4");
  clips.truncated = join(dir, "truncated.mp4");
  clips.nearlyWhole = join(dir, "nearly-whole.mp4");
  await Promise.all([
    ffmpeg(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", clips.audioOnly]),
    // One 8000x8000 frame: tiny as a JPEG, 96 MB once decoded.
    ffmpeg(["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=8000x8000:r=1:d=1", "-c:v", "mjpeg", "-q:v", "31", clips.huge]),
    ffmpeg(["-v", "error", "-y", "-i", clips.clean as string, "-c", "copy", "-metadata:s:v:0", "rotate=90", clips.rotated]),
    // Noise from a fixed seed: fresh random bytes now and then pass ffprobe's format probing as
    // a file without a video stream, and the test failed with "no video stream".
    writeFile(clips.random, seededNoise(64 * 1024)),
    // The index (moov) sits at the front and survives the cut; the frames stop half-way.
    readFile(clips.faststart as string).then((data) =>
      Promise.all([
        writeFile(clips.truncated as string, data.subarray(0, Math.floor(data.length / 2))),
        writeFile(clips.nearlyWhole as string, data.subarray(0, Math.floor(data.length * 0.96))),
      ]),
    ),
    patchBytes(clips["unknown-codec"] as string, "avc1", "zzzz"),
    // MP4 would still know AAC from its decoder config; Matroska names the codec by its id alone.
    patchBytes(clips["unknown-audio"] as string, "A_AAC", "A_QQQ"),
  ]);
});

afterAll(() => temp?.remove());

function seededNoise(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = 0x2545f491;
  for (let index = 0; index < length; index++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const check = (name: string, options: Parameters<typeof checkQuality>[2] = {}) => checkQuality(tools, clips[name] as string, options);
const codes = (report: QualityReport) => report.warnings.map((warning) => warning.code);

describe("refusals", () => {
  it("refuses a file with no video stream", async () => {
    const { report } = await check("audioOnly");
    expect(report).toMatchObject({ ok: false, refusal: "no video stream: the file holds only audio" });
  });

  it("refuses random bytes as unreadable", async () => {
    const { report } = await check("random");
    expect(report.ok).toBe(false);
    expect(report.refusal).toBe(
      "file is unreadable: invalid data found when processing input; upload a video file such as MP4, MOV, MKV or WebM",
    );
  });

  it("refuses a truncated faststart MP4 that ffprobe accepts, saying where it stops", async () => {
    const { report } = await check("truncated");
    expect(report.ok).toBe(false);
    const match = /^file is truncated at (\d+\.\d) s of 4\.0 s; upload the complete file again$/.exec(report.refusal ?? "");
    expect(match, report.refusal).not.toBeNull();
    const stoppedAt = Number(match?.[1]);
    expect(stoppedAt).toBeGreaterThan(0.5);
    expect(stoppedAt).toBeLessThan(3.5);
    expect(report.source?.durationSeconds).toBe(4);
  });

  it("refuses a truncated faststart MP4 from its packets alone, before decoding a frame", async () => {
    const checked = await checkSource(tools, clips.truncated as string);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.check.report.refusal).toBe((await check("truncated")).report.refusal);
  });

  it("refuses a file cut a few frames before its end, which the demuxer reports", async () => {
    const { report } = await check("nearlyWhole");
    expect(report.refusal).toMatch(/^file is truncated at 3\.\d s of 4\.0 s; upload the complete file again$/);
  });

  it("refuses a video too short to be one", async () => {
    const { report } = await check("one-frame");
    expect(report.refusal).toMatch(/^duration is 0\.0\d s, shorter than the 0\.5 s minimum$/);
  });

  it("refuses a file that claims to last longer than the 6 h limit, without decoding it", async () => {
    const decoded: number[] = [];
    const { report } = await check("seven-hours", { onProgress: (percent) => decoded.push(percent) });
    expect(report.refusal).toBe("duration is 7 h, longer than the 6 h limit");
    expect(decoded).toEqual([]);
  });

  it("applies a configured duration limit", async () => {
    const { report } = await check("clean", { limits: { maxDurationSeconds: 2 } });
    expect(report.refusal).toBe("duration is 3 s, longer than the 2 s limit");
  });

  it("refuses a decompression bomb before decoding a frame", async () => {
    const decoded: number[] = [];
    const started = Date.now();
    const { report } = await check("huge", { onProgress: (percent) => decoded.push(percent) });
    expect(report.refusal).toBe("8000x8000 is larger than the 4096x4096 limit");
    expect(decoded).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("applies a configured dimension limit", async () => {
    const { report } = await check("clean", { limits: { maxWidth: 256, maxHeight: 256 } });
    expect(report.refusal).toBe("320x240 is larger than the 256x256 limit");
  });

  it("refuses a codec ffmpeg does not know, naming it", async () => {
    const { report } = await check("unknown-codec");
    expect(report.refusal).toBe("video codec 'zzzz' is not supported; export the video as H.264, HEVC, VP9 or AV1 and upload it again");
  });
});

describe("before decoding", () => {
  it("passes a clean clip and plans from the field-order flags", async () => {
    const [clean, flagged, unflagged] = await Promise.all(
      ["clean", "interlaced", "interlaced-unflagged"].map((name) => checkSource(tools, clips[name] as string)),
    );
    expect(clean?.ok && clean.source.summary).toMatchObject({ width: 320, height: 240, interlaced: false });
    expect(flagged?.ok && flagged.source.summary.interlaced).toBe(true);
    // Only the decode's idet votes can tell; `concludeQualityCheck` has the last word.
    expect(unflagged?.ok && unflagged.source.summary.interlaced).toBe(false);
  });
});

describe("warnings", () => {
  it("passes a clean clip with no warnings and summarises it", async () => {
    const { report } = await check("clean");
    expect(report).toMatchObject({ ok: true, warnings: [] });
    expect(report.source).toMatchObject({
      width: 320,
      height: 240,
      fps: 30,
      frameRate: "30/1",
      videoCodec: "h264",
      audioCodec: "aac",
      hasAudio: true,
      interlaced: false,
      variableFrameRate: false,
      rotation: 0,
    });
    expect(report.source?.durationSeconds).toBeCloseTo(3, 1);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("reports frame drops and timestamp gaps", async () => {
    const { report } = await check("gap");
    expect(report.ok).toBe(true);
    const drop = report.warnings.find((warning) => warning.code === "frame-drops");
    expect(drop?.message).toMatch(/^21 frames are missing in 1 timestamp gap \(the longest 0\.73 s at 1\.3\d s\)/);
    expect(codes(report)).not.toContain("variable-frame-rate");
  });

  it("reports a variable frame rate", async () => {
    const { report } = await check("vfr");
    expect(report.ok).toBe(true);
    expect(codes(report)).toContain("variable-frame-rate");
    expect(codes(report)).not.toContain("frame-drops");
    expect(report.source?.variableFrameRate).toBe(true);
  });

  it("reports interlacing", async () => {
    const { report } = await check("interlaced");
    expect(report.warnings).toContainEqual({
      code: "interlaced",
      message: "interlaced video (top field first); renditions are deinterlaced",
    });
    expect(report.source?.interlaced).toBe(true);
  });

  it("reports interlacing the encoder did not flag, when idet is sure of it", async () => {
    const { report } = await check("interlaced-unflagged");
    expect(codes(report)).toEqual(["interlaced", "no-audio"]);
  });

  it("reports rotation and describes the picture upright", async () => {
    const { report } = await check("rotated");
    expect(codes(report)).toEqual(["rotated"]);
    expect(report.source).toMatchObject({ width: 240, height: 320, codedWidth: 320, codedHeight: 240, rotation: 90 });
  });

  it("reports a very low bitrate", async () => {
    const { report } = await check("low-bitrate");
    const warning = report.warnings.find((w) => w.code === "low-bitrate");
    expect(warning?.message).toMatch(/^very low bitrate: \d+ kbit\/s for 320x240 at 30 fps \(0\.0[01]\d bits per pixel\)/);
  });

  it("reports missing audio", async () => {
    const { report } = await check("no-audio");
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([{ code: "no-audio", message: "no audio stream; the video will play silently" }]);
    expect(report.source?.hasAudio).toBe(false);
  });

  it("reports an audio codec it cannot decode and plans a silent video rather than failing", async () => {
    const { report } = await check("unknown-audio");
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([
      { code: "no-audio", message: "audio codec is not supported, so the video will play silently; export the audio as AAC to keep it" },
    ]);
    expect(report.source?.hasAudio).toBe(false);
  });

  it("reports decode progress up to 100", async () => {
    const seen: number[] = [];
    await check("clean", { onProgress: (percent) => seen.push(percent) });
    expect(seen.at(-1)).toBeGreaterThanOrEqual(95);
  });
});
