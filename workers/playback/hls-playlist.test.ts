import { describe, expect, it } from "vitest";
import { masterPlaylist, mediaPlaylist } from "../test/playback.ts";
import {
  allowedVariants,
  capMasterPlaylist,
  carryToken,
  folderAccess,
  masterProblems,
  masterVariants,
  ownMediaPlaylist,
  ownUri,
} from "./hls-playlist.ts";

describe("HLS playlist rewriting", () => {
  it("reads variants with their heights, and caps them at the plan's height", () => {
    const variants = masterVariants(masterPlaylist, "vid");
    expect(variants.map((variant) => variant.height)).toEqual([240, 480, 720, 1080]);
    expect(allowedVariants(variants, 720).map((variant) => variant.uri)).toEqual(["240p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8"]);
    const capped = capMasterPlaylist(masterPlaylist, "vid", 480);
    expect(masterVariants(capped, "vid").map((variant) => variant.height)).toEqual([240, 480]);
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
    expect(masterVariants(portrait, "vid").map((variant) => variant.height)).toEqual([480, 1080]);
    expect(masterVariants(capMasterPlaylist(portrait, "vid", 1080), "vid").map((variant) => variant.uri)).toEqual([
      "480p/index.m3u8",
      "1080p/index.m3u8",
    ]);
    expect(masterVariants(capMasterPlaylist(portrait, "vid", 480), "vid").map((variant) => variant.uri)).toEqual(["480p/index.m3u8"]);
  });

  it("keeps the shortest rendition when every one is taller than the plan", () => {
    const variants = masterVariants(masterPlaylist, "vid").filter((variant) => variant.height >= 720);
    expect(allowedVariants(variants, 480).map((variant) => variant.height)).toEqual([720]);
  });

  it("drops I-frame playlists above the cap and closes the folders of dropped renditions", () => {
    const master = `${masterPlaylist}#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,RESOLUTION=1920x1080,URI="1080p/iframes.m3u8"\n`;
    expect(capMasterPlaylist(master, "vid", 720)).not.toContain("iframes");
    const access = (maxHeight: number, path: string) => folderAccess(master, "vid", maxHeight, path);
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
      expect(folderAccess(masterPlaylist, "vid", 2160, path)).toBe("unknown");
    expect(folderAccess("#EXTM3U\n", "vid", 2160, "480p/seg_00001.m4s")).toBe("unknown");
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

  it("serves only the video's own media: foreign URIs and variants without a height are dropped from the master", () => {
    const attacker = "http://attacker.example/injected/index.m3u8";
    const master = [
      masterPlaylist.trimEnd(),
      '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=426x240,CODECS="avc1.64001e"',
      attacker,
      // No RESOLUTION: the plan cap could not hold it.
      '#EXT-X-STREAM-INF:BANDWIDTH=9000000,CODECS="avc1.640033"',
      "2160p/index.m3u8",
      '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=426x240,CODECS="avc1.64001e"',
      "../other-video/hls/240p/index.m3u8",
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="x",URI="//attacker.example/subs.m3u8"',
      '#EXT-X-SESSION-DATA:DATA-ID="com.example",URI="https://attacker.example/data.json"',
      '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="1080p/iframes.m3u8"',
      "/media/other-video/hls/240p/index.m3u8",
      "",
    ].join("\n");
    for (const maxHeight of [240, 1080, 4320]) {
      const served = capMasterPlaylist(master, "vid", maxHeight);
      expect(served).not.toMatch(/attacker|other-video|2160p|iframes|SESSION-DATA|SUBTITLES/);
      expect(masterVariants(served, "vid").every((variant) => ownUri(variant.uri, "vid"))).toBe(true);
    }
    expect(masterVariants(master, "vid").map((variant) => variant.uri)).toEqual(masterVariants(masterPlaylist, "vid").map((v) => v.uri));
    expect(folderAccess(master, "vid", 4320, "2160p/seg_00001.m4s")).toBe("unknown");
    expect(masterProblems(master, "vid")).toEqual([
      `it names "${attacker}", outside the title`,
      'variant "2160p/index.m3u8" has no RESOLUTION',
      'it names "../other-video/hls/240p/index.m3u8", outside the title',
      'it names "//attacker.example/subs.m3u8", outside the title',
      'it names "https://attacker.example/data.json", outside the title',
      'variant "1080p/iframes.m3u8" has no RESOLUTION',
      'it names "/media/other-video/hls/240p/index.m3u8", outside the title',
    ]);
    expect(masterProblems(masterPlaylist, "vid")).toEqual([]);
    expect(masterProblems("#EXTM3U\n", "vid")).toEqual(["it lists no variant"]);
  });

  it("serves a media playlist only when every segment, init and key is the video's own", () => {
    expect(ownMediaPlaylist(mediaPlaylist(), "vid")).toBe(mediaPlaylist());
    expect(ownMediaPlaylist(`${mediaPlaylist()}#EXT-X-MAP:URI="/media/vid/init.mp4"\n`, "vid")).not.toBeNull();
    for (const foreign of ["https://attacker.example/seg.m4s", "../../other/seg.m4s", "/media/other/seg.m4s", "seg.m4s?x=1", "a/./seg.m4s"])
      expect(ownMediaPlaylist(`${mediaPlaylist()}${foreign}\n`, "vid")).toBeNull();
    expect(ownMediaPlaylist(mediaPlaylist().replace('URI="init.mp4"', 'URI="https://attacker.example/init.mp4"'), "vid")).toBeNull();
    expect(ownMediaPlaylist(`#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="https://attacker.example/key"\n`, "vid")).toBeNull();
  });
});
