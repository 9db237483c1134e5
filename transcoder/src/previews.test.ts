import { describe, expect, it } from "vitest";
import { buildStoryboardVtt, planPoster, planPosterSizes, planStoryboard, planTiles } from "./previews.ts";

describe("storyboard", () => {
  it("lays out one tile every interval, ten to a row", () => {
    expect(planStoryboard(62, { width: 1920, height: 1080 })).toEqual({
      intervalSeconds: 5,
      tileCount: 13,
      columns: 10,
      rows: 2,
      tileWidth: 160,
      tileHeight: 90,
    });
  });

  it("stretches the interval so a long film stays within the tile budget", () => {
    const plan = planStoryboard(2 * 3600, { width: 1280, height: 720 });
    expect(plan.intervalSeconds).toBe(36);
    expect(plan.tileCount).toBe(200);
  });

  it("makes portrait thumbnails 160 tall", () => {
    expect(planStoryboard(10, { width: 1080, height: 1920 })).toMatchObject({ tileWidth: 90, tileHeight: 160, columns: 2, rows: 1 });
  });

  it("writes WebVTT cues that point into the sprite", () => {
    const plan = planStoryboard(12, { width: 320, height: 240 }, { intervalSeconds: 5, columns: 2 });
    expect(buildStoryboardVtt(plan, 12, "storyboard.jpg")).toBe(
      [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:05.000",
        "storyboard.jpg#xywh=0,0,160,120",
        "",
        "00:00:05.000 --> 00:00:10.000",
        "storyboard.jpg#xywh=160,0,160,120",
        "",
        "00:00:10.000 --> 00:00:12.000",
        "storyboard.jpg#xywh=0,120,160,120",
        "",
      ].join("\n"),
    );
  });

  it("places the poster a tenth of the way in", () => {
    expect(planPoster(95.5, { width: 1280, height: 720 })).toEqual({ atSeconds: 9.55, width: 1280, height: 720 });
  });
});

describe("planTiles", () => {
  const storyboard = planStoryboard(50, { width: 1920, height: 1080 }, { intervalSeconds: 5 });

  it("gives each range the tiles whose instants fall in it, numbered in the whole storyboard", () => {
    expect(planTiles(storyboard, 0, 8.333)).toEqual({
      firstIndex: 0,
      count: 2,
      firstAtSeconds: 0,
      intervalSeconds: 5,
      width: 160,
      height: 90,
    });
    expect(planTiles(storyboard, 8.333, 20)).toMatchObject({ firstIndex: 2, count: 2, firstAtSeconds: 1.667 });
    expect(planTiles(storyboard, 20, 28.333)).toMatchObject({ firstIndex: 4, count: 2, firstAtSeconds: 0 });
  });

  it("hands every tile to exactly one range, and none past the storyboard's end", () => {
    const bounds = [0, 8.333, 20, 28.333, 40, 50];
    const tiles = bounds.slice(0, -1).flatMap((start, index) => {
      const plan = planTiles(storyboard, start, bounds[index + 1] as number);
      return plan ? Array.from({ length: plan.count }, (_, n) => plan.firstIndex + n) : [];
    });
    expect(tiles).toEqual(Array.from({ length: storyboard.tileCount }, (_, n) => n));
    expect(planTiles(storyboard, 50, 60)).toBeNull();
  });
});

describe("planPosterSizes", () => {
  it("makes every width that does not enlarge the frame, narrowest first, and one size for a frame narrower than all", () => {
    expect(planPosterSizes(1920, "webp").map((size) => size.name)).toEqual(["poster-320w.webp", "poster-640w.webp", "poster-1280w.webp"]);
    expect(planPosterSizes(640, "jpg").map((size) => size.width)).toEqual([320, 640]);
    expect(planPosterSizes(250, "webp")).toEqual([{ width: 250, name: "poster-250w.webp" }]);
  });
});
