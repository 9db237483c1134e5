import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyseFrameTiming } from "./frame-timing.ts";

const steady = (count: number, interval: number, start = 0) => Array.from({ length: count }, (_, i) => start + i * interval);

describe("analyseFrameTiming", () => {
  it("finds nothing wrong with a constant rate, in any packet order", () => {
    const timing = analyseFrameTiming([...steady(90, 1 / 30)].reverse());
    expect(timing).toMatchObject({ frames: 90, missingFrames: 0, gaps: 0, variableFrameRate: false });
    expect(timing?.nominalIntervalSeconds).toBeCloseTo(1 / 30, 6);
  });

  it("counts the frames missing in gaps and locates the longest", () => {
    const timestamps = [...steady(10, 0.04), ...steady(10, 0.04, 0.76)];
    expect(analyseFrameTiming(timestamps)).toMatchObject({
      missingFrames: 9,
      gaps: 1,
      longestGap: { atSeconds: 0.36 },
      variableFrameRate: false,
    });
  });

  it("tells a variable rate from millisecond rounding", () => {
    const rounded = steady(120, 1 / 30).map((t) => Math.round(t * 1000) / 1000);
    expect(analyseFrameTiming(rounded)?.variableFrameRate).toBe(false);
    const phone = steady(120, 1 / 30).map((t, i) => t + (i % 3 === 0 ? 0.012 : 0));
    expect(analyseFrameTiming(phone)?.variableFrameRate).toBe(true);
  });

  it("needs at least three frames", () => {
    expect(analyseFrameTiming([0, 0.04])).toBeNull();
  });

  it("counts exactly the frames removed from a constant stream (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 / 24, 1 / 25, 1 / 30, 1 / 60),
        fc.uniqueArray(fc.integer({ min: 1, max: 198 }), { maxLength: 40 }),
        (interval, dropped) => {
          const removed = new Set(dropped);
          const timestamps = steady(200, interval).filter((_, i) => !removed.has(i));
          const timing = analyseFrameTiming(timestamps);
          expect(timing?.missingFrames).toBe(removed.size);
          expect(timing?.variableFrameRate).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
