import type { Rational } from "../../workers/transcoding/contract.ts";
import type { Keyframe } from "./chunk-plan.ts";
import { describeFailure, spawnTool } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { asMediaInput, type SourceInput } from "./media-input.ts";

/**
 * Finding keyframes without reading the file: for each instant, ffprobe seeks there (the demuxer
 * goes to the keyframe at or before it, by the file's index) and reads a few packets. A seek in an
 * MP4 or Matroska file costs the index lookup and one small range read, so planning a feature
 * film's ranges reads a few megabytes of it, not all of it.
 */

/** How many packets to read after each seek, looking for the keyframe (formats without an index may land before one). */
const packetsPerSeek = 32;

export function keyframeLookup(
  tools: FfmpegTools,
  input: SourceInput,
  video: { streamIndex: number; timeBase: Rational },
  options: { signal?: AbortSignal } = {},
) {
  const { url, options: inputOptions } = asMediaInput(input);
  const toSeconds = (pts: number) => (pts * video.timeBase.num) / video.timeBase.den;

  /** Packets (pts, key flag) read after each interval's seek, grouped by interval. */
  const readIntervals = async (intervals: string[]) => {
    const packets: { pts: number; key: boolean }[] = [];
    const outcome = await spawnTool(
      tools.ffprobe,
      [
        ...["-v", "error", ...inputOptions, "-select_streams", String(video.streamIndex)],
        ...["-read_intervals", intervals.join(","), "-show_entries", "packet=pts,flags", "-of", "csv=p=0", url],
      ],
      {
        signal: options.signal,
        onStdoutLine: (line) => {
          const [pts, flags] = line.split(",");
          if (pts !== undefined && /^-?\d+$/.test(pts)) packets.push({ pts: Number(pts), key: flags?.includes("K") ?? false });
        },
      },
    );
    if (outcome.exitCode !== 0) throw new Error(`ffprobe could not seek in the source: ${describeFailure(outcome.stderrTail)}`);
    return packets;
  };

  return {
    /** The first video packet: where the title's first range starts. */
    async first(): Promise<Keyframe | null> {
      const [packet] = await readIntervals(["%+#1"]);
      return packet ? { pts: packet.pts, seconds: toSeconds(packet.pts) } : null;
    },

    /**
     * The keyframe at or before each instant. One ffprobe reads one packet after each seek (an
     * indexed format such as MP4 or Matroska lands on the keyframe itself), so the whole list costs
     * one open of the file and one small read per instant. Where that packet is not a keyframe
     * (a format without an index), or the answers do not line up one per instant, that instant is
     * asked alone, reading a few more packets.
     */
    async atOrBefore(seconds: readonly number[]): Promise<(Keyframe | null)[]> {
      if (seconds.length === 0) return [];
      const order = seconds.map((value, index) => ({ value: Math.max(0, value), index })).sort((a, b) => a.value - b.value);
      const interval = (value: number, packets: number) => `${value.toFixed(6)}%+#${packets}`;
      const batch = await readIntervals(order.map(({ value }) => interval(value, 1)));
      const answers: (Keyframe | null)[] = seconds.map(() => null);
      for (const [at, { value, index }] of order.entries()) {
        let packet = batch.length === order.length ? batch[at] : undefined;
        if (!packet?.key) packet = (await readIntervals([interval(value, packetsPerSeek)])).find((candidate) => candidate.key);
        answers[index] = packet?.key ? { pts: packet.pts, seconds: toSeconds(packet.pts) } : null;
      }
      return answers;
    },
  };
}
