import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capFrameRate, defaultLadderOptions, type LadderSource, planLadder, snapFrameRate, standardRungs } from "./ladder.ts";

const source = (overrides: Partial<LadderSource> = {}): LadderSource => ({
  width: 1920,
  height: 1080,
  frameRate: "30/1",
  videoBitrate: 20_000_000,
  interlaced: false,
  hasAudio: true,
  ...overrides,
});

const sizes = (plan: ReturnType<typeof planLadder>) => plan.renditions.map((r) => `${r.name} ${r.width}x${r.height}@${r.fps.toFixed(2)}`);

describe("planLadder", () => {
  it("gives a 1080p30 source every standard rung up to its own height", () => {
    const plan = planLadder(source());
    expect(sizes(plan)).toEqual([
      "240p 426x240@30.00",
      "360p 640x360@30.00",
      "480p 854x480@30.00",
      "720p 1280x720@30.00",
      "1080p 1920x1080@30.00",
    ]);
    expect(plan.renditions.map((r) => r.videoBitrate)).toEqual([245_000, 553_000, 984_000, 2_212_000, 4_977_000]);
    expect(plan).toMatchObject({ deinterlace: false, segmentSeconds: 6, audio: { type: "aac", bitrate: 128_000, channels: 2 } });
  });

  it("never upscales: a 360p source stops at 360p", () => {
    expect(sizes(planLadder(source({ width: 640, height: 360 })))).toEqual(["240p 426x240@30.00", "360p 640x360@30.00"]);
  });

  it("builds a portrait ladder on the short side", () => {
    const plan = planLadder(source({ width: 1080, height: 1920 }));
    expect(sizes(plan)).toEqual([
      "240p 240x426@30.00",
      "360p 360x640@30.00",
      "480p 480x854@30.00",
      "720p 720x1280@30.00",
      "1080p 1080x1920@30.00",
    ]);
  });

  it("gives a source between rungs its own top rung", () => {
    expect(sizes(planLadder(source({ width: 1920, height: 1000 }))).at(-1)).toBe("1000p 1920x1000@30.00");
    expect(planLadder(source({ width: 1920, height: 1000 })).renditions.map((r) => r.name)).toContain("720p");
  });

  it("drops a standard rung that would nearly duplicate the source's own", () => {
    expect(planLadder(source({ width: 1334, height: 750 })).renditions.map((r) => r.name)).toEqual(["240p", "360p", "480p", "750p"]);
  });

  it("makes one rung at the source's size for a source below 240p, with even dimensions", () => {
    expect(sizes(planLadder(source({ width: 175, height: 131 })))).toEqual(["130p 174x130@30.00"]);
  });

  it("makes odd dimensions even without widening the picture", () => {
    const plan = planLadder(source({ width: 853, height: 479 }));
    for (const r of plan.renditions) {
      expect(r.width % 2).toBe(0);
      expect(r.height % 2).toBe(0);
    }
    expect(plan.renditions.at(-1)).toMatchObject({ width: 852, height: 478 });
  });

  it("keeps 60 fps from 720p up and halves it below", () => {
    const plan = planLadder(source({ frameRate: "60000/1001" }));
    expect(plan.renditions.map((r) => `${r.name}@${r.frameRate.num}/${r.frameRate.den}`)).toEqual([
      "240p@30000/1001",
      "360p@30000/1001",
      "480p@30000/1001",
      "720p@60000/1001",
      "1080p@60000/1001",
    ]);
    expect(plan.renditions.map((r) => r.gopFrames)).toEqual([180, 180, 180, 360, 360]);
  });

  it("honours a fixed frame-rate cap", () => {
    const plan = planLadder(source({ frameRate: "50/1" }), { frameRateCap: { type: "fixed", maxFps: 30 } });
    expect(plan.renditions.every((r) => r.fps === 25 && r.gopFrames === 150)).toBe(true);
  });

  it("caps every rung's bitrate at the source's own", () => {
    const plan = planLadder(source({ videoBitrate: 1_000_000 }));
    expect(plan.renditions.map((r) => r.videoBitrate)).toEqual([245_000, 553_000, 984_000, 1_000_000, 1_000_000]);
  });

  it("aligns GOPs to the segment duration", () => {
    const plan = planLadder(source({ frameRate: "25/1" }), { segmentSeconds: 4 });
    expect(plan.renditions.every((r) => r.gopFrames === 100)).toBe(true);
    expect(plan.segmentSeconds).toBe(4);
  });

  it("deinterlaces interlaced sources and plans no audio for silent ones", () => {
    expect(planLadder(source({ interlaced: true, hasAudio: false }))).toMatchObject({ deinterlace: true, audio: { type: "none" } });
  });

  it("rejects a picture it cannot scale", () => {
    expect(() => planLadder(source({ width: 0, height: 0 }))).toThrow(RangeError);
  });

  it("holds its rules for any source (property)", () => {
    const rates = fc.constantFrom(
      "24000/1001",
      "24/1",
      "25/1",
      "30000/1001",
      "30/1",
      "50/1",
      "60000/1001",
      "60/1",
      "120/1",
      "2987/100",
      "15/1",
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 4096 }),
        fc.integer({ min: 64, max: 4096 }),
        rates,
        fc.option(fc.integer({ min: 50_000, max: 80_000_000 }), { nil: null }),
        (width, height, frameRate, videoBitrate) => {
          const plan = planLadder(source({ width, height, frameRate, videoBitrate }));
          const shortSides = plan.renditions.map((r) => r.shortSide);
          expect(shortSides).toEqual([...shortSides].sort((a, b) => a - b));
          expect(new Set(shortSides).size).toBe(shortSides.length);
          expect(plan.renditions.at(-1)?.shortSide).toBe(Math.floor(Math.min(width, height) / 2) * 2);
          // Every standard rung below the source is there, but for one merged into the source's own.
          const expectedStandard = standardRungs.filter((rung) => rung < 0.9 * Math.min(width, height) - 2);
          for (const rung of expectedStandard) expect(shortSides).toContain(rung);

          for (const r of plan.renditions) {
            expect(r.width % 2 === 0 && r.height % 2 === 0).toBe(true);
            expect(r.width).toBeLessThanOrEqual(width);
            expect(r.height).toBeLessThanOrEqual(height);
            if (width > height) expect(r.width).toBeGreaterThanOrEqual(r.height);
            if (width < height) expect(r.width).toBeLessThanOrEqual(r.height);
            const aspectError = Math.abs(r.width / r.height - width / height) / (width / height);
            expect(aspectError).toBeLessThanOrEqual(2.5 / r.shortSide + 1 / Math.max(width, height));
            expect(r.fps).toBeLessThanOrEqual(r.shortSide >= 720 ? 60 : 30);
            expect(r.fps).toBeGreaterThan(0);
            expect(r.gopFrames).toBe(Math.round(defaultLadderOptions.segmentSeconds * r.fps));
            if (videoBitrate !== null) expect(r.videoBitrate).toBeLessThanOrEqual(Math.max(videoBitrate + 500, 16_000));
            expect(r.maxBitrate).toBeGreaterThanOrEqual(r.videoBitrate);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("frame rates", () => {
  it("lowers a rate by an exact divisor when one lands near the cap", () => {
    expect(capFrameRate({ num: 60_000, den: 1001 }, 30)).toEqual({ num: 30_000, den: 1001 });
    expect(capFrameRate({ num: 50, den: 1 }, 30)).toEqual({ num: 25, den: 1 });
    expect(capFrameRate({ num: 120, den: 1 }, 30)).toEqual({ num: 30, den: 1 });
    expect(capFrameRate({ num: 120, den: 1 }, 60)).toEqual({ num: 60, den: 1 });
    expect(capFrameRate({ num: 24, den: 1 }, 30)).toEqual({ num: 24, den: 1 });
  });

  it("uses the cap itself when halving would fall far below it", () => {
    expect(capFrameRate({ num: 31, den: 1 }, 30)).toEqual({ num: 30, den: 1 });
    expect(capFrameRate({ num: 40, den: 1 }, 30)).toEqual({ num: 30, den: 1 });
  });

  it("snaps a phone's drifting average to the nearest common rate", () => {
    expect(snapFrameRate({ num: 2987, den: 100 })).toEqual({ num: 30_000, den: 1001 });
    expect(snapFrameRate({ num: 30, den: 1 })).toEqual({ num: 30, den: 1 });
    expect(snapFrameRate({ num: 2999, den: 100 })).toEqual({ num: 30, den: 1 });
    expect(snapFrameRate({ num: 15, den: 1 })).toEqual({ num: 15, den: 1 });
  });
});
