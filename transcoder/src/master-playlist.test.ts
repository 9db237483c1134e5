import { describe, expect, it } from "vitest";
import {
  buildMasterPlaylist,
  parseAttributes,
  parseMediaPlaylist,
  peakSegmentBitrate,
  type RenditionMeasurement,
} from "./master-playlist.ts";

const measured = (peakBitrate: number, averageBitrate: number, codec: string): RenditionMeasurement => ({
  durationSeconds: 10,
  peakBitrate,
  averageBitrate,
  codec,
});

describe("buildMasterPlaylist", () => {
  it("puts measured bandwidth, resolution, frame rate and codecs on each variant, with the audio group", () => {
    const master = buildMasterPlaylist({
      variants: [
        { uri: "240p/index.m3u8", width: 426, height: 240, frameRate: 30, video: measured(300_000, 250_000, "avc1.640015") },
        { uri: "360p/index.m3u8", width: 640, height: 360, frameRate: 30_000 / 1001, video: measured(700_000, 550_000, "avc1.64001e") },
      ],
      audio: { uri: "audio/index.m3u8", measurement: measured(131_000, 129_000, "mp4a.40.2") },
    });
    expect(master).toBe(`#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=431000,AVERAGE-BANDWIDTH=379000,RESOLUTION=426x240,FRAME-RATE=30.000,CODECS="avc1.640015,mp4a.40.2",AUDIO="group_audio"
240p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=831000,AVERAGE-BANDWIDTH=679000,RESOLUTION=640x360,FRAME-RATE=29.970,CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_audio"
360p/index.m3u8
`);
  });

  it("writes video-only codecs and no audio group when there is no audio", () => {
    const master = buildMasterPlaylist({
      variants: [{ uri: "240p/index.m3u8", width: 426, height: 240, frameRate: 25, video: measured(300_000, 250_000, "avc1.640015") }],
      audio: null,
    });
    expect(master).toBe(`#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=250000,RESOLUTION=426x240,FRAME-RATE=25.000,CODECS="avc1.640015"
240p/index.m3u8
`);
  });
});

describe("playlist parsing", () => {
  it("reads segments, durations and the init segment of a media playlist", () => {
    const playlist = parseMediaPlaylist(`#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:4.000000,
seg_00000.m4s
#EXTINF:1.500000,
seg_00001.m4s
#EXT-X-ENDLIST
`);
    expect(playlist).toEqual({
      targetDurationSeconds: 4,
      initUri: "init_0.mp4",
      segments: [
        { uri: "seg_00000.m4s", durationSeconds: 4 },
        { uri: "seg_00001.m4s", durationSeconds: 1.5 },
      ],
    });
  });

  it("parses attribute lists with quoted commas", () => {
    expect(Object.fromEntries(parseAttributes('BANDWIDTH=1,CODECS="avc1.64001e,mp4a.40.2",AUDIO="a"'))).toEqual({
      BANDWIDTH: "1",
      CODECS: "avc1.64001e,mp4a.40.2",
      AUDIO: "a",
    });
  });

  it("measures the peak over runs of half to one and a half target durations", () => {
    const segments = [
      { durationSeconds: 4, bytes: 500_000 },
      { durationSeconds: 4, bytes: 1_000_000 },
      { durationSeconds: 0.5, bytes: 200_000 }, // 3.2 Mbit/s alone, but too short to count alone
    ];
    // The last two together (4.5 s, 1.2 MB) are the richest run that counts.
    expect(peakSegmentBitrate(segments, 4)).toBe(2_133_333);
    expect(peakSegmentBitrate([{ durationSeconds: 1, bytes: 1000 }], 4)).toBe(8000);
  });
});
