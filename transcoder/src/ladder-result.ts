import type { LadderPlan, QualityReport, TranscodeResult } from "../../workers/transcoding/contract.ts";
import { outputNames } from "./ffmpeg-command.ts";
import type { RenditionMeasurement } from "./master-playlist.ts";

/**
 * What a published ladder is, as the video row records it: the keys under `prefix` and what was
 * measured of each rendition. The one-shot job and the finalize task publish the same layout; the
 * finalize task's file names start with its attempt's `tag` (`finalize-a1-master.m3u8`), as
 * everything a task writes does.
 */
export function describeLadder(
  prefix: string,
  ladder: LadderPlan,
  measured: { renditions: readonly RenditionMeasurement[]; audio: RenditionMeasurement | null },
  qualityReport: QualityReport,
  durationSeconds: number,
  tag = "",
): TranscodeResult {
  return {
    renditions: ladder.renditions.map((rendition, index) => {
      const measurement = measured.renditions[index] as RenditionMeasurement;
      return {
        name: rendition.name,
        width: rendition.width,
        height: rendition.height,
        bitrate: measurement.averageBitrate,
        peakBitrate: measurement.peakBitrate,
        frameRate: Math.round(rendition.fps * 1000) / 1000,
        codec: measurement.codec ?? "avc1",
        playlist: `${prefix}${rendition.name}/${tag}${outputNames.mediaPlaylist}`,
      };
    }),
    audio: measured.audio
      ? {
          codec: measured.audio.codec ?? "mp4a.40.2",
          bitrate: measured.audio.averageBitrate,
          playlist: `${prefix}${outputNames.audioFolder}/${tag}${outputNames.mediaPlaylist}`,
        }
      : null,
    masterPlaylistKey: `${prefix}${tag}${outputNames.master}`,
    posterKey: `${prefix}${tag}${outputNames.poster}`,
    storyboard: { spriteKey: `${prefix}${tag}${outputNames.sprite}`, vttKey: `${prefix}${tag}${outputNames.vtt}` },
    qualityReport,
    durationSeconds: Math.round(durationSeconds * 1000) / 1000,
  };
}
