import { masterPlaylistKey, posterSizes } from "../platform/media-layout.ts";
import { type AudioResult, type ChunkResult, type FinalizeResult, publishedKeys } from "./contract.ts";

/**
 * Every object a published ladder keeps below its prefix: what the finalize result references
 * (`publishedKeys`), every size of its poster, and the master playlist viewers are served. The
 * rest (a dead attempt's segments, storyboard tiles, the finalize's own copy of the master) is
 * swept once the title is ready, by the Worker (publish.ts) and by the Node job runner of the
 * benchmarks and tests (scripts/lib/chunked-job.ts) alike.
 */
export function keptAfterPublishing(
  videoId: string,
  result: FinalizeResult,
  chunks: readonly ChunkResult[],
  audio: AudioResult | null,
): Set<string> {
  return new Set([
    ...publishedKeys(result, chunks, audio),
    ...posterSizes(result.posterKey).map((size) => size.path),
    masterPlaylistKey(videoId),
  ]);
}
