import { describe, expect, it } from "vitest";
import { masterPlaylist, mediaPlaylist } from "../test/playback.ts";
import { allowedVariants, capMasterPlaylist, carryToken, folderAccess, masterVariants } from "./hls-playlist.ts";

describe("HLS playlist rewriting", () => {
  it("reads variants with their heights, and caps them at the plan's height", () => {
    const variants = masterVariants(masterPlaylist);
    expect(variants.map((variant) => variant.height)).toEqual([240, 480, 720, 1080]);
    expect(allowedVariants(variants, 720).map((variant) => variant.uri)).toEqual(["240p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8"]);
    const capped = capMasterPlaylist(masterPlaylist, 480);
    expect(masterVariants(capped).map((variant) => variant.height)).toEqual([240, 480]);
    expect(capped.split("\n").filter((line) => line.startsWith("#EXT-X-STREAM-INF"))).toHaveLength(2);
    expect(capped).toContain("#EXT-X-MEDIA:TYPE=AUDIO");
  });

  it("classes portrait renditions by their short side, as plans mean", () => {
    const portrait = [
      "#EXTM3U",
      '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=480x854,CODECS="avc1.64001e"',
      "480p/index.m3u8",
      '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1080x1920,CODECS="avc1.640028"',
      "1080p/index.m3u8",
      "",
    ].join("\n");
    expect(masterVariants(portrait).map((variant) => variant.height)).toEqual([480, 1080]);
    expect(masterVariants(capMasterPlaylist(portrait, 1080)).map((variant) => variant.uri)).toEqual([
      "480p/index.m3u8",
      "1080p/index.m3u8",
    ]);
    expect(masterVariants(capMasterPlaylist(portrait, 480)).map((variant) => variant.uri)).toEqual(["480p/index.m3u8"]);
  });

  it("keeps the shortest rendition when every one is taller than the plan", () => {
    const variants = masterVariants(masterPlaylist).filter((variant) => (variant.height ?? 0) >= 720);
    expect(allowedVariants(variants, 480).map((variant) => variant.height)).toEqual([720]);
  });

  it("drops I-frame playlists above the cap and closes the folders of dropped renditions", () => {
    const master = `${masterPlaylist}#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080,URI="1080p/iframes.m3u8"\n`;
    expect(capMasterPlaylist(master, 720)).not.toContain("iframes");
    const access = (maxHeight: number, path: string) => folderAccess(master, maxHeight, path);
    expect(["240p/seg_00001.m4s", "480p/index.m3u8", "audio/init.mp4", "poster.jpg"].map((path) => access(480, path))).toEqual([
      "open",
      "open",
      "open",
      "open",
    ]);
    expect(access(480, "720p/seg_00001.m4s")).toBe("above-plan");
    expect(access(480, "1080p/iframes.m3u8")).toBe("above-plan");
    expect(access(2160, "1080p/iframes.m3u8")).toBe("open");
  });

  it("closes folders the master does not name, whatever the plan (fails closed)", () => {
    for (const path of ["2160p/seg_00001.m4s", "480p/extra/seg.m4s", "scratch/seg.m4s"])
      expect(folderAccess(masterPlaylist, 2160, path)).toBe("unknown");
    expect(folderAccess("#EXTM3U\n", 2160, "480p/seg_00001.m4s")).toBe("unknown");
  });

  it("inserts the token into root-relative URIs of the video and leaves relative ones alone", () => {
    const playlist = `${mediaPlaylist()}#EXT-X-MAP:URI="/media/vid/init.mp4"\n/media/vid/seg_9.m4s\nhttps://elsewhere.example/x.m4s\n`;
    const rewritten = carryToken(playlist, "vid", "v1.tok");
    expect(rewritten).toContain('#EXT-X-MAP:URI="init.mp4"');
    expect(rewritten).toContain('#EXT-X-MAP:URI="/media/vid/v1.tok/init.mp4"');
    expect(rewritten).toContain("\n/media/vid/v1.tok/seg_9.m4s\n");
    expect(rewritten).toContain("https://elsewhere.example/x.m4s");
    expect(carryToken(rewritten, "vid", "v1.tok")).toBe(rewritten);
  });
});
