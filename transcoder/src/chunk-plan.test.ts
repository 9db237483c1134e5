import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstFrameOf, type Keyframe, type KeyframeLookup, planChunks } from "./chunk-plan.ts";

/** A source whose keyframes lie every `gop` frames at `fps` (time base 1/fps·100), looked up like ffprobe does. */
function source(fps: number, gop: number, seconds: number) {
  const keyframes: Keyframe[] = [];
  for (let frame = 0; frame < seconds * fps; frame += gop) keyframes.push({ pts: frame * 100, seconds: frame / fps });
  const asked: number[][] = [];
  const lookup: KeyframeLookup = async (instants) => {
    asked.push([...instants]);
    return instants.map((instant) => keyframes.filter((keyframe) => keyframe.seconds <= instant + 1e-9).at(-1) ?? null);
  };
  return { keyframes, lookup, asked, first: keyframes[0] as Keyframe };
}

const rate = (num: number, den = 1) => ({ num, den });

describe("planChunks", () => {
  it("cuts a title into contiguous ranges that start on the keyframe at or before each target", async () => {
    // A keyframe every 1.5 s: the targets 10, 20, 30 and 40 s fall on 9, 19.5, 30 and 39 s.
    const { lookup, first } = source(30, 45, 50);
    const plan = await planChunks({ first, endSeconds: 50, originSeconds: 0, chunkSeconds: 10, rungRates: [rate(30)] }, lookup);
    expect(plan.ranges.map((range) => [range.startPts / 100, range.endPts === null ? null : range.endPts / 100])).toEqual([
      [0, 270],
      [270, 585],
      [585, 900],
      [900, 1170],
      [1170, null],
    ]);
    expect(plan.ranges.at(-1)?.endSeconds).toBe(50);
    expect(plan.offGrid).toBe(0);
  });

  it("is one range when the title is no longer than a chunk (and a short tail rides with the last chunk)", async () => {
    const { lookup, first } = source(25, 25, 120);
    expect(
      (await planChunks({ first, endSeconds: 120, originSeconds: 0, chunkSeconds: 120, rungRates: [rate(25)] }, lookup)).ranges,
    ).toHaveLength(1);
    const tail = await planChunks({ first, endSeconds: 125, originSeconds: 0, chunkSeconds: 60, rungRates: [rate(25)] }, lookup);
    expect(tail.ranges.map((range) => range.startSeconds)).toEqual([0, 60]);
  });

  it("moves a boundary back to a keyframe on every rung's frame grid (60 fps source, 30 fps rungs, odd GOP)", async () => {
    // Keyframes every 35 frames: 595 and 1785 are odd, and a 30 fps rung keeps only even frames.
    const { lookup, first, asked } = source(60, 35, 40);
    const plan = await planChunks({ first, endSeconds: 40, originSeconds: 0, chunkSeconds: 10, rungRates: [rate(60), rate(30)] }, lookup);
    for (const range of plan.ranges) expect((range.startPts / 100) % 2 === 0, `${range.startPts / 100}`).toBe(true);
    expect(plan.offGrid).toBe(0);
    expect(plan.ranges.map((range) => range.startPts / 100)).toEqual([0, 560, 1190, 1750]);
    // One lookup for all targets, then one for the two off the grid.
    expect(asked.map((instants) => instants.length)).toEqual([3, 2]);
  });

  it("takes an off-grid keyframe when none on the grid is near, and counts it", async () => {
    // 60 fps, keyframes on odd frames only before 10 s, three searches deep and more.
    const keyframes = [{ pts: 0, seconds: 0 }, ...[589, 591, 593, 595, 597, 599].map((frame) => ({ pts: frame, seconds: frame / 60 }))];
    const lookup: KeyframeLookup = async (instants) =>
      instants.map((instant) => keyframes.filter((keyframe) => keyframe.seconds <= instant + 1e-9).at(-1) ?? null);
    const plan = await planChunks(
      { first: { pts: 0, seconds: 0 }, endSeconds: 20, originSeconds: 0, chunkSeconds: 10, rungRates: [rate(30)] },
      lookup,
    );
    expect(plan.ranges.map((range) => range.startPts)).toEqual([0, 599]);
    expect(plan.offGrid).toBe(1);
  });

  it("never makes a range shorter than a quarter chunk, even when the GOP is longer than a chunk", async () => {
    const { lookup, first } = source(30, 30 * 25, 100);
    const plan = await planChunks({ first, endSeconds: 100, originSeconds: 0, chunkSeconds: 10, rungRates: [rate(30)] }, lookup);
    expect(plan.ranges.map((range) => range.startSeconds)).toEqual([0, 25, 50, 75]);
  });

  it("always covers the title contiguously, in order, from its first frame to its end", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 2, max: 120 }),
        async (gop, seconds, chunkSeconds) => {
          const { lookup, first } = source(30, gop, seconds);
          const { ranges } = await planChunks(
            { first, endSeconds: seconds, originSeconds: 0, chunkSeconds, rungRates: [rate(30)] },
            lookup,
          );
          expect(ranges[0]?.startPts).toBe(0);
          expect(ranges.at(-1)?.endPts).toBeNull();
          expect(ranges.at(-1)?.endSeconds).toBe(seconds);
          ranges.forEach((range, index) => {
            expect(range.index).toBe(index);
            const next = ranges[index + 1];
            if (next) {
              expect(range.endPts).toBe(next.startPts);
              expect(range.endSeconds).toBe(next.startSeconds);
              expect(next.startSeconds - range.startSeconds).toBeGreaterThanOrEqual(chunkSeconds / 4);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("firstFrameOf", () => {
  it("counts a range's first output frame from the origin on the rung's grid", () => {
    expect(firstFrameOf({ startSeconds: 350 / 30 }, 0, rate(30))).toBe(350);
    expect(firstFrameOf({ startSeconds: 100 / 60 + 1.5 }, 1.5, rate(30))).toBe(50);
    expect(firstFrameOf({ startSeconds: (1001 * 250) / 30000 }, 0, rate(30000, 1001))).toBe(250);
  });
});
