import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClip, makeTempDir, tools } from "../test/clips.ts";
import { parseProbeOutput, probeSource } from "./probe.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("probe");
});
afterAll(() => temp?.remove());

describe("probeSource", () => {
  it("describes streams, rates, bitrate and duration", async () => {
    const path = await makeClip(temp.dir, "plain", { rate: 25 });
    const probed = await probeSource(tools, path);
    expect(probed.ok).toBe(true);
    if (!probed.ok) return;
    expect(probed.source.video).toMatchObject({
      index: 0,
      codec: "h264",
      width: 320,
      height: 240,
      rotation: 0,
      sampleAspectRatio: 1,
      avgFrameRate: { num: 25, den: 1 },
      fieldOrder: "progressive",
    });
    expect(probed.source.audio).toMatchObject({ index: 1, codec: "aac", channels: 1 });
    expect(probed.source.durationSeconds).toBeCloseTo(3, 1);
    expect(probed.source.bitrate).toBeGreaterThan(0);
  });

  it("widens anamorphic pixels to the displayed size", async () => {
    // 720x576 with 16:15 pixels: PAL 4:3 as a viewer sees it, 768x576.
    const path = await makeClip(temp.dir, "anamorphic", { size: "720x576", seconds: 1, audio: false, filter: "setsar=16/15" });
    const probed = await probeSource(tools, path);
    expect(probed.ok && probed.source.video).toMatchObject({ codedWidth: 720, width: 768, height: 576, sampleAspectRatio: 16 / 15 });
  });

  it("says why a file cannot be read, without the temp path", async () => {
    const probed = await probeSource(tools, join(temp.dir, "missing.mp4"));
    expect(probed).toEqual({ ok: false, error: "no such file or directory" });
  });
});

describe("parseProbeOutput", () => {
  it("skips cover art, reads rotation from the display matrix and turns the size", () => {
    const source = parseProbeOutput({
      format: { format_name: "mov,mp4", duration: "12.5", bit_rate: "800000" },
      streams: [
        { index: 0, codec_type: "video", disposition: { attached_pic: 1 }, codec_name: "mjpeg", width: 600, height: 600 },
        {
          index: 1,
          codec_type: "video",
          codec_name: "hevc",
          width: 1920,
          height: 1080,
          avg_frame_rate: "0/0",
          r_frame_rate: "30000/1001",
          field_order: "tt",
          side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }],
        },
      ],
    });
    expect(source.video).toMatchObject({ index: 1, width: 1080, height: 1920, rotation: 270, avgFrameRate: null, fieldOrder: "top-first" });
    expect(source.video?.realFrameRate).toEqual({ num: 30000, den: 1001 });
    expect(source.audio).toBeNull();
    expect(source.durationSeconds).toBe(12.5);
  });

  it("survives ffprobe's N/A values and empty output", () => {
    expect(parseProbeOutput({ format: { duration: "N/A" }, streams: [] })).toMatchObject({
      durationSeconds: null,
      video: null,
      streams: [],
    });
    expect(parseProbeOutput(null).streams).toEqual([]);
  });
});
