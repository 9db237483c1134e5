import { describe, expect, it } from "vitest";
import { looksInterlaced, looksProgressive, parseIdetSummary } from "./decode-check.ts";

const sure = { minShare: 0.8, minFrames: 100 };

describe("interlace detection", () => {
  it("reads idet's multi-frame summary", () => {
    expect(
      parseIdetSummary("[Parsed_idet_0 @ 0x55] [info] Multi frame detection: TFF:   125 BFF:     0 Progressive:     3 Undetermined:     0"),
    ).toEqual({
      topFieldFirst: 125,
      bottomFieldFirst: 0,
      progressive: 3,
      undetermined: 0,
    });
    expect(
      parseIdetSummary("[Parsed_idet_0 @ 0x55] [info] Single frame detection: TFF: 1 BFF: 0 Progressive: 3 Undetermined: 0"),
    ).toBeNull();
  });

  it("believes consistent votes for one field order", () => {
    expect(looksInterlaced({ topFieldFirst: 0, bottomFieldFirst: 240, progressive: 10, undetermined: 5 }, sure)).toBe("bottom-first");
  });

  it("does not believe votes split between field orders, as on sharp synthetic graphics", () => {
    expect(looksInterlaced({ topFieldFirst: 282, bottomFieldFirst: 274, progressive: 44, undetermined: 0 }, sure)).toBeNull();
  });

  it("does not decide on too few frames", () => {
    expect(looksInterlaced({ topFieldFirst: 50, bottomFieldFirst: 1, progressive: 9, undetermined: 0 }, sure)).toBeNull();
  });

  it("recognises mostly progressive pictures", () => {
    expect(looksProgressive({ topFieldFirst: 2, bottomFieldFirst: 1, progressive: 97, undetermined: 20 })).toBe(true);
    expect(looksProgressive({ topFieldFirst: 0, bottomFieldFirst: 0, progressive: 0, undetermined: 120 })).toBe(false);
  });
});
