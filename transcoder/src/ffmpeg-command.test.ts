import { describe, expect, it } from "vitest";
import { buildTranscodeArgs, type TranscodeCommand } from "./ffmpeg-command.ts";
import { planLadder, type RenditionPlan } from "./ladder.ts";
import { planPoster, planStoryboard } from "./previews.ts";

const command = (overrides: Partial<Parameters<typeof planLadder>[0]> = {}, extra: Partial<TranscodeCommand> = {}): TranscodeCommand => {
  const ladder = planLadder({
    width: 1280,
    height: 720,
    frameRate: "30/1",
    videoBitrate: 5e6,
    interlaced: false,
    hasAudio: true,
    ...overrides,
  });
  return {
    input: "/work/source.mp4",
    outputDir: "/work/out",
    videoStreamIndex: 0,
    audioStreamIndex: 1,
    ladder,
    poster: planPoster(20, { width: 1280, height: 720 }),
    storyboard: planStoryboard(20, { width: 1280, height: 720 }),
    preset: "veryfast",
    ...extra,
  };
};

const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("buildTranscodeArgs", () => {
  it("decodes once, splits into the largest rendition and the previews, and scales each rung from the one above", () => {
    const graph = valueAfter(buildTranscodeArgs(command()), "-filter_complex");
    expect(graph?.split(";")).toEqual([
      "[0:0]split=3[out3_in][out4_in][out5_in]",
      "[out3_in]fps=30/1,scale=1280:720,setsar=1,format=yuv420p,split=2[out3][out2_in]",
      "[out2_in]fps=30/1,scale=854:480,setsar=1,format=yuv420p,split=2[out2][out1_in]",
      "[out1_in]fps=30/1,scale=640:360,setsar=1,format=yuv420p,split=2[out1][out0_in]",
      "[out0_in]fps=30/1,scale=426:240,setsar=1,format=yuv420p[out0]",
      "[out4_in]select='gte(t,2)',trim=end_frame=1,scale=1280:720,setsar=1[out4]",
      "[out5_in]fps=1000/5000,scale=160:90,setsar=1,tile=4x1[out5]",
    ]);
  });

  it("feeds a 30 fps rung from a 60 fps one above it, never the other way round", () => {
    const graph = valueAfter(buildTranscodeArgs(command({ width: 1920, height: 1080, frameRate: "60/1" })), "-filter_complex");
    const lines = graph?.split(";") ?? [];
    expect(lines).toContain("[out3_in]fps=60/1,scale=1280:720,setsar=1,format=yuv420p,split=2[out3][out2_in]");
    expect(lines).toContain("[out2_in]fps=30/1,scale=854:480,setsar=1,format=yuv420p,split=2[out2][out1_in]");
  });

  it("takes a rung from the source when no larger rung has its frame rate", () => {
    const base = command();
    const [small, large] = base.ladder.renditions as [RenditionPlan, RenditionPlan];
    const ladder = { ...base.ladder, renditions: [{ ...small, frameRate: { num: 60, den: 1 }, fps: 60 }, large] };
    const graph = valueAfter(buildTranscodeArgs({ ...base, ladder }), "-filter_complex");
    expect(graph?.split(";")[0]).toBe("[0:0]split=4[out0_in][out1_in][out2_in][out3_in]");
    expect(graph).toContain("[out1_in]fps=30/1,scale=640:360,setsar=1,format=yuv420p[out1]");
  });

  it("passes the pictures straight on when the source feeds one branch", () => {
    const base = command({}, { poster: null, storyboard: null });
    const ladder = { ...base.ladder, renditions: base.ladder.renditions.slice(0, 1) };
    const graph = valueAfter(buildTranscodeArgs({ ...base, ladder }), "-filter_complex");
    expect(graph?.split(";")).toEqual(["[0:0]null[out0_in]", "[out0_in]fps=30/1,scale=426:240,setsar=1,format=yuv420p[out0]"]);
    expect(valueAfter(buildTranscodeArgs({ ...base, ladder: { ...ladder, deinterlace: true } }), "-filter_complex")).toMatch(
      /^\[0:0\]bwdif=mode=send_frame:parity=auto:deint=all,null\[out0_in\];/,
    );
  });

  it("deinterlaces once, before the split", () => {
    const graph = valueAfter(buildTranscodeArgs(command({ interlaced: true })), "-filter_complex");
    expect(graph).toMatch(/^\[0:0\]bwdif=mode=send_frame:parity=auto:deint=all,split=3/);
  });

  it("takes the video stream by its index, so cover art is never the picture", () => {
    const args = buildTranscodeArgs(command({}, { videoStreamIndex: 2, audioStreamIndex: 0 }));
    expect(valueAfter(args, "-filter_complex")).toMatch(/^\[0:2\]split/);
    expect(args.join(" ")).toContain("-map 0:0 ");
  });

  it("sets each rendition's bitrate and a GOP of one segment, with keyframes forced on boundaries", () => {
    const args = buildTranscodeArgs(command()).join(" ");
    expect(args).toContain("-b:v:3 2212000 -maxrate:v:3 3318000 -bufsize:v:3 4424000 -g:v:3 180 -keyint_min:v:3 180");
    expect(args).toContain("-sc_threshold 0 -force_key_frames expr:gte(t,n_forced*6)");
    expect(args).toContain("-c:v libx264 -preset veryfast -profile:v high");
    expect(args).toContain("-hls_time 6 -hls_playlist_type vod -hls_segment_type fmp4");
  });

  it("shares one AAC rendition among the video variants", () => {
    const args = buildTranscodeArgs(command());
    expect(valueAfter(args, "-var_stream_map")).toBe(
      "v:0,agroup:audio,name:240p v:1,agroup:audio,name:360p v:2,agroup:audio,name:480p v:3,agroup:audio,name:720p a:0,agroup:audio,name:audio",
    );
    expect(args.join(" ")).toContain("-c:a aac -b:a 128000 -ac 2 -ar 48000");
  });

  it("makes video-only variants for a silent source", () => {
    const args = buildTranscodeArgs(command({ hasAudio: false }, { audioStreamIndex: null }));
    expect(valueAfter(args, "-var_stream_map")).toBe("v:0,name:240p v:1,name:360p v:2,name:480p v:3,name:720p");
    expect(args).not.toContain("-c:a");
  });
});
