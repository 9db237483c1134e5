import { describe, expect, it } from "vitest";
import { chooseStartLevel, type LevelInfo } from "./start-level.ts";

/** The ladder the transcoder makes for a 1080p source, in hls.js's order (the master playlist's). */
const ladder: LevelInfo[] = [
  { width: 426, height: 240, bitrate: 400_000 },
  { width: 640, height: 360, bitrate: 800_000 },
  { width: 854, height: 480, bitrate: 1_400_000 },
  { width: 1280, height: 720, bitrate: 2_800_000 },
  { width: 1920, height: 1080, bitrate: 5_000_000 },
];
const height = (index: number) => ladder[index]?.height;

describe("chooseStartLevel", () => {
  it("starts a 390-px phone (2x) at 480p, not 720p, however fast the network", () => {
    expect(height(chooseStartLevel(ladder, { width: 780, height: 439 }, 50_000_000))).toBe(480);
  });

  it("starts a 1280-px desktop player at 720p on a fast network, and at what the bandwidth affords on a slow one", () => {
    expect(height(chooseStartLevel(ladder, { width: 1280, height: 720 }, 10_000_000))).toBe(720);
    // 2 Mbit/s (the default with no hint): 70 % of it affords 1.4 Mbit/s, 480p; not 240p.
    expect(height(chooseStartLevel(ladder, { width: 1280, height: 720 }, 2_000_000))).toBe(480);
    expect(height(chooseStartLevel(ladder, { width: 1280, height: 720 }, 600_000))).toBe(240);
  });

  it("starts at the smallest when nothing is affordable, and answers -1 (hls.js's auto) with no levels", () => {
    expect(height(chooseStartLevel(ladder, { width: 1280, height: 720 }, 100_000))).toBe(240);
    expect(chooseStartLevel([], { width: 1280, height: 720 }, 10_000_000)).toBe(-1);
  });

  it("takes the tallest a plan's capped master lists when the player is larger than all", () => {
    expect(height(chooseStartLevel(ladder.slice(0, 3), { width: 2560, height: 1440 }, 50_000_000))).toBe(480);
  });
});
