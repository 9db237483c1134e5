import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ffmpeg, ffprobeJson, makeTempDir } from "../test/clips.ts";
import { Fmp4Error, readInitSegment, shiftFragments } from "./fmp4.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let init: Buffer;
let segments: Buffer[];

beforeAll(async () => {
  temp = await makeTempDir("fmp4");
  // What a chunk task makes: an HLS fMP4 rendition with B-frames, in 1 s segments.
  await ffmpeg([
    ...["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x90:r=30:d=3", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"],
    ...["-g", "30", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4"],
    ...["-hls_segment_filename", join(temp.dir, "seg_%03d.m4s"), join(temp.dir, "index.m3u8")],
  ]);
  init = await readFile(join(temp.dir, "init.mp4"));
  const names = (await readdir(temp.dir)).filter((name) => name.endsWith(".m4s")).sort();
  segments = await Promise.all(names.map((name) => readFile(join(temp.dir, name))));
});

afterAll(() => temp?.remove());

/** Decode timestamps of the packets of init + segments, as a player would join them. */
async function decodeTimes(parts: Buffer[]): Promise<number[]> {
  const path = join(temp.dir, `joined-${Math.random().toString(36).slice(2)}.mp4`);
  await writeFile(path, Buffer.concat(parts));
  const json = await ffprobeJson(path, ["-show_entries", "packet=dts", "-select_streams", "v:0"]);
  return (json.packets as { dts: number }[]).map((packet) => Number(packet.dts));
}

describe("fragmented MP4", () => {
  it("reads the track's timescale from the init segment", () => {
    expect(readInitSegment(init).timescale).toBe(15360);
  });

  it("starts every segment's decode times where ffmpeg left them, from 0", () => {
    const copy = Buffer.from(segments[0] as Buffer);
    expect(shiftFragments(copy, { offsetTicks: 0, sequenceBase: 0 }, readInitSegment(init))).toEqual({
      startTicks: 0,
      ticks: 30 * 512,
      samples: 30,
    });
  });

  it("moves every fragment by the offset in place, so the joined rendition starts later by exactly that", async () => {
    const before = await decodeTimes([init, ...segments]);
    const info = readInitSegment(init);
    const offset = 350 * 512;
    const shifted = segments.map((segment) => Buffer.from(segment));
    const summaries = shifted.map((segment) => shiftFragments(segment, { offsetTicks: offset, sequenceBase: 200_000 }, info));
    expect(shifted.map((segment) => segment.length)).toEqual(segments.map((segment) => segment.length));
    expect(await decodeTimes([init, ...shifted])).toEqual(before.map((dts) => dts + offset));
    // Each segment starts where the one before it ends.
    for (let index = 1; index < summaries.length; index++) {
      const previous = summaries[index - 1] as { startTicks: number; ticks: number };
      expect(summaries[index]?.startTicks).toBe(previous.startTicks + previous.ticks);
    }
    expect(summaries.reduce((sum, summary) => sum + summary.samples, 0)).toBe(90);
    // The fragment sequence numbers keep rising past the base.
    const mfhd = shifted[1]?.indexOf("mfhd") ?? -1;
    expect(shifted[1]?.readUInt32BE(mfhd + 8)).toBe(200_002);
  });

  it("refuses what is not a media segment, in words", () => {
    expect(() => shiftFragments(Buffer.from(init), { offsetTicks: 1, sequenceBase: 0 }, readInitSegment(init))).toThrow(Fmp4Error);
    expect(() => readInitSegment(segments[0] as Buffer)).toThrow(/no moov/);
  });
});
