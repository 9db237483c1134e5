import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskEnvelope } from "../../scripts/lib/chunked-job.ts";
import type { PlanResult } from "../../workers/transcoding/contract.ts";
import { ffmpeg, makeClip, makeTempDir, tools } from "../test/clips.ts";
import { planChunks } from "./chunk-plan.ts";
import { FsStorage } from "./fs-storage.ts";
import { openKeyframeIndex } from "./keyframe-index.ts";
import { keyframeLookup } from "./keyframes.ts";
import { probeSource } from "./probe.ts";
import { runTask } from "./tasks.ts";

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
        // And so the same ranges, with the deeper looks for a keyframe on every rung's grid (25 and 30 fps).
        const first = (await scan.first()) ?? { pts: 0, seconds: 0 };
        const input = { first, endSeconds: first.seconds + seconds, originSeconds: 0, chunkSeconds: 2.5 };
        const rungRates = [
          { num: 30, den: 1 },
          { num: 25, den: 1 },
        ];
        const byIndex = await planChunks({ ...input, rungRates }, index.lookup);
        expect(byIndex.ranges.length).toBeGreaterThanOrEqual(3);
        expect(byIndex).toEqual(await planChunks({ ...input, rungRates }, scan.atOrBefore));
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

  it("is what the plan task reads keyframes from, and the plan says so; without an index it says why it scans", async () => {
    const planLog = async (sourceKey: string) => {
      const lines: string[] = [];
      const result = (await runTask(
        { ...taskEnvelope("clip", sourceKey), kind: "plan", taskId: "plan", attempt: 1, attemptTag: "plan-a1-", chunkSeconds: 3 },
        { storage, tools, workRoot: join(temp.dir, "work"), log: (line) => lines.push(line) },
      )) as PlanResult;
      return { chunks: result.chunks.length, line: lines.find((line) => line.startsWith("planned")) ?? "" };
    };
    const indexed = await planLog("moov-at-end.mp4");
    expect(indexed.chunks).toBeGreaterThanOrEqual(3);
    expect(indexed.line).toMatch(/keyframes from the mp4 index, \d+ KiB read/);
    const scanned = await planLog("no-index.ts");
    expect(scanned.chunks).toBeGreaterThanOrEqual(3);
    expect(scanned.line).toMatch(/keyframes from the packet scan: its container has no index/);
  }, 60_000);
});
