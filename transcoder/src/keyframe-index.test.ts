import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ffmpeg, makeClip, makeTempDir, tools } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { openKeyframeIndex } from "./keyframe-index.ts";
import { keyframeLookup } from "./keyframes.ts";
import { probeSource } from "./probe.ts";

/**
 * The index reader must answer exactly as the packet scan (ffprobe's seeks) does, or the chunk
 * boundaries would move. Real files: keyframes at irregular instants (forced every 1.7 s, so no
 * target lands on one by luck), B-frames (so presentation and decode order differ and the MP4 has
 * an edit list), and the MP4's index at the end, at the start, and Matroska's Cues.
 */

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let storage: FsStorage;
const seconds = 12;

beforeAll(async () => {
  temp = await makeTempDir("keyframe-index");
  await mkdir(join(temp.dir, "store"), { recursive: true });
  storage = new FsStorage(join(temp.dir, "store"));
  const output = ["-preset", "veryfast", "-bf", "3", "-force_key_frames", "expr:gte(t,n_forced*1.7)", "-sc_threshold", "0", "-g", "300"];
  const end = await makeClip(temp.dir, "moov-at-end", { seconds, rate: 30, output });
  const start = await makeClip(temp.dir, "moov-at-start", { seconds, rate: 30, output: [...output, "-movflags", "+faststart"] });
  const mkv = await makeClip(temp.dir, "cues", { seconds, rate: 25, output, container: "mkv" });
  const ts = join(temp.dir, "no-index.ts");
  await ffmpeg(["-hide_banner", "-v", "error", "-y", "-i", end, "-c", "copy", ts]);
  for (const path of [end, start, mkv, ts]) await copyFile(path, join(temp.dir, "store", path.slice(temp.dir.length + 1)));
}, 120_000);
afterAll(() => temp?.remove());

/** Instants all over the title: every 0.37 s, each keyframe itself, and a millisecond before each (planChunks' deeper looks). */
function instantsFor(keyframes: number[]): number[] {
  const grid = Array.from({ length: Math.ceil(seconds / 0.37) + 2 }, (_, index) => index * 0.37);
  return [...grid, ...keyframes, ...keyframes.map((at) => at - 1e-3), -1, seconds + 5];
}

describe("openKeyframeIndex", () => {
  for (const [name, container] of [
    ["moov-at-end.mp4", "mp4"],
    ["moov-at-start.mp4", "mp4"],
    ["cues.mkv", "matroska"],
  ] as const) {
    it(`finds the same keyframes as the packet scan: ${name}`, async () => {
      const probed = await probeSource(tools, storage.sourceInput(name));
      if (!probed.ok || !probed.source.video?.timeBase) throw new Error(`probe failed for ${name}`);
      const video = { streamIndex: probed.source.video.index, timeBase: probed.source.video.timeBase };
      const scan = keyframeLookup(tools, storage.sourceInput(name), video);
      const size = (await storage.size(name)) ?? 0;
      const index = await openKeyframeIndex(storage, name, size, video);
      if ("unavailable" in index) throw new Error(index.unavailable);
      try {
        expect(index.container).toBe(container);
        expect(index.first).toEqual(await scan.first());
        const every = await scan.atOrBefore(Array.from({ length: seconds * 4 }, (_, index) => index / 4));
        const keyframes = [...new Set(every.flatMap((keyframe) => (keyframe ? [keyframe.seconds] : [])))];
        expect(keyframes.length).toBeGreaterThanOrEqual(7); // forced every 1.7 s over 12 s
        const instants = instantsFor(keyframes);
        const opened = index.bytesRead();
        expect(await index.lookup(instants)).toEqual(await scan.atOrBefore(instants));
        // MP4: the lookups are answered from the moov read when opening, and read nothing more.
        if (container === "mp4") expect(index.bytesRead()).toBe(opened);
      } finally {
        index.close();
      }
    }, 60_000);
  }

  it("says why when the container has no index (MPEG-TS), so the plan scans packets", async () => {
    const size = (await storage.size("no-index.ts")) ?? 0;
    const index = await openKeyframeIndex(storage, "no-index.ts", size, { timeBase: { num: 1, den: 90_000 } });
    expect(index).toEqual({ unavailable: expect.stringMatching(/no index/) });
  });
});
