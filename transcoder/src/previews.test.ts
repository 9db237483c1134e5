import { describe, expect, it } from "vitest";
import { buildStoryboardVtt, planPoster, planStoryboard } from "./previews.ts";

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
