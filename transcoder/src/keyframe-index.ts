import { CustomSource, EncodedPacketSink, Input, MATROSKA, MP4, QTFF, WEBM } from "mediabunny";
import type { Rational } from "../../workers/transcoding/contract.ts";
import type { Keyframe, KeyframeLookup } from "./chunk-plan.ts";
import type { MediaStorage } from "./storage.ts";

/**
 * Keyframes from the container's own index, read once, instead of a packet read per boundary.
 *
 * MP4 and MOV: the `moov` box (sync samples `stss`, timestamps `stts`/`ctts`, the edit list),
 * wherever it lies (at the end too: the box headers are walked with small ranged reads). A lookup
 * is then a search in memory and reads nothing more. Matroska and WebM: the `Cues`, which point a
 * lookup at the cluster that holds its keyframe, so each lookup reads that one cluster. Parsed by
 * mediabunny (a TypeScript demuxer), which reads through `storage.readRange` with the source's
 * grant, so the bytes are closed ranges like ffmpeg's.
 *
 * Answers as ffprobe's seek does (`keyframes.ts`): the instant is taken to microseconds, then to
 * the stream's time base (rounded to the nearest tick), and the answer is the last keyframe whose
 * presentation time is at or before that tick. `keyframe-index.test.ts` checks that both give the
 * same keyframes for MP4 (index first and last) and Matroska.
 */

/** What the index pass may read before it is given up for the packet scan: a file without an index would otherwise be read whole. */
export const indexReadBudget = { baseBytes: 32 * 1024 ** 2, perLookupBytes: 4 * 1024 ** 2 };

/** The least one read of the index fetches (see `read` below). */
const minReadBytes = 64 * 1024;

export interface KeyframeIndex {
  /** `mp4` or `matroska`. */
  container: string;
  /** The first keyframe the index names. */
  first: Keyframe | null;
  lookup: KeyframeLookup;
  /** Bytes read so far (the index, and for Matroska each lookup's cluster). */
  bytesRead(): number;
  close(): void;
}

/**
 * Opens the index of `key`, or says in words why it has none this reader uses (another
 * container, no single video track): the caller then scans packets.
 */
export async function openKeyframeIndex(
  storage: MediaStorage,
  key: string,
  size: number,
  video: { timeBase: Rational },
  options: { signal?: AbortSignal } = {},
): Promise<KeyframeIndex | { unavailable: string }> {
  let bytesRead = 0;
  let budget = indexReadBudget.baseBytes;
  // The demuxer asks for box headers a few bytes at a time: each read fetches at least
  // `minReadBytes`, and the last one answers the reads that fall inside it, so opening an MP4
  // costs about three requests (the head, the moov's header and the moov) and reads little past it.
  let last: { start: number; bytes: Uint8Array } | null = null;
  const source = new CustomSource({
    getSize: () => size,
    read: async (start, end) => {
      if (last && start >= last.start && end <= last.start + last.bytes.length)
        return last.bytes.subarray(start - last.start, end - last.start);
      // A read that runs on past the last one (a box's body after its header) fetches only the rest.
      const kept = last && start >= last.start && start < last.start + last.bytes.length ? last : null;
      const from = kept ? kept.start + kept.bytes.length : start;
      const until = Math.min(size, Math.max(end, from + minReadBytes));
      bytesRead += until - from;
      if (bytesRead > budget) throw new IndexBudgetExceeded(bytesRead);
      const fetched = await storage.readRange(key, from, until, { signal: options.signal });
      if (fetched.length < until - from) throw new RangeError(`bytes ${from}-${until - 1} are past the end of the file`);
      last = { start, bytes: kept ? Buffer.concat([kept.bytes.subarray(start - kept.start), fetched]) : fetched };
      return last.bytes.subarray(start - last.start, end - last.start);
    },
  });
  const input = new Input({ source, formats: [MP4, QTFF, MATROSKA, WEBM] });
  try {
    if (!(await input.canRead())) {
      input.dispose();
      return { unavailable: "its container has no index this reader knows (only MP4, MOV, Matroska and WebM do)" };
    }
    const format = await input.getFormat();
    const container = format === MATROSKA || format === WEBM ? "matroska" : "mp4";
    const tracks = await input.getVideoTracks();
    const track = tracks[0];
    if (tracks.length !== 1 || !track) {
      input.dispose();
      return {
        unavailable: `it has ${tracks.length} video tracks, and the index reader takes the one ffprobe chose only when there is one`,
      };
    }
    const sink = new EncodedPacketSink(track);
    const { num, den } = video.timeBase;
    const toKeyframe = (timestamp: number): Keyframe => {
      const pts = Math.round((timestamp * den) / num);
      return { pts, seconds: (pts * num) / den };
    };
    // A file cut short keeps an index (at its front) that names frames past its end; the packet
    // scan finds no keyframe there, and the ranges must not either. So the last frame's bytes
    // must be in the file (one small read), or the index is not used.
    const lastPacket = await sink.getPacket(Number.POSITIVE_INFINITY).catch((error: unknown) => {
      if (error instanceof IndexBudgetExceeded) throw error;
      return null;
    });
    if (!lastPacket || lastPacket.byteLength === 0) {
      input.dispose();
      return { unavailable: "its index names frames past the end of the file (a file cut short?)" };
    }
    const firstPacket = await sink.getFirstKeyPacket({ metadataOnly: true });
    const first = firstPacket ? toKeyframe(firstPacket.timestamp) : null;
    return {
      container,
      first,
      bytesRead: () => bytesRead,
      close: () => input.dispose(),
      async lookup(seconds) {
        budget = bytesRead + indexReadBudget.baseBytes + seconds.length * indexReadBudget.perLookupBytes;
        const answers: (Keyframe | null)[] = [];
        for (const instant of seconds) {
          // ffprobe's -read_intervals: microseconds, then the stream's tick nearest to them.
          const micros = Math.round(Math.max(0, instant) * 1e6);
          const tick = Math.round((micros * den) / (1e6 * num));
          // Half a tick past it: every keyframe at or before the tick, none after, whatever the float rounding.
          const packet = await sink.getKeyPacket(((tick + 0.5) * num) / den, { metadataOnly: true });
          // Before the first keyframe, ffmpeg's seek goes to the first one; so does this.
          answers.push(packet ? toKeyframe(packet.timestamp) : first);
        }
        return answers;
      },
    };
  } catch (error) {
    input.dispose();
    if (error instanceof IndexBudgetExceeded) return { unavailable: error.message };
    throw error;
  }
}

export class IndexBudgetExceeded extends Error {
  constructor(bytes: number) {
    super(`reading its index took more than ${(bytes / 1024 ** 2).toFixed(0)} MiB (no index, or one that does not point at keyframes)`);
    this.name = "IndexBudgetExceeded";
  }
}

/**
 * The plan's keyframe lookup: the index when there is one and it starts on the keyframe ffmpeg
 * starts on (`first`, from the packet scan: the same time base, edit list and all), else the packet
 * scan. `describe()` says which, and why not the index, for the plan's log. An index that outgrows
 * its read budget mid-plan hands over to the scan for the rest.
 */
export function planKeyframeLookup(
  storage: MediaStorage,
  key: string,
  size: number,
  video: { timeBase: Rational },
  scan: { first: Keyframe; atOrBefore: KeyframeLookup },
  options: { signal?: AbortSignal } = {},
): { lookup: KeyframeLookup; describe(): string; close(): void } {
  let index: KeyframeIndex | null = null;
  let how = "packet scan: one range, no boundary to look up";
  // Opened at the first lookup that asks for something: a title of one range needs no keyframe.
  let opening: Promise<void> | null = null;
  const open = async () => {
    const opened = await openKeyframeIndex(storage, key, size, video, options);
    if ("unavailable" in opened) how = `packet scan: ${opened.unavailable}`;
    else if (opened.first?.pts !== scan.first.pts) {
      how = `packet scan: the ${opened.container} index's first keyframe (${opened.first?.seconds ?? "none"} s) is not ffmpeg's (${scan.first.seconds} s)`;
      opened.close();
    } else {
      index = opened;
      how = `${opened.container} index`;
    }
  };
  return {
    async lookup(seconds) {
      if (seconds.length === 0) return [];
      opening ??= open();
      await opening;
      const current = index;
      if (current) {
        try {
          return await current.lookup(seconds);
        } catch (error) {
          if (!(error instanceof IndexBudgetExceeded)) throw error;
          how = `${current.container} index, then packet scan: ${error.message}`;
          current.close();
          index = null;
        }
      }
      return scan.atOrBefore(seconds);
    },
    describe: () => {
      const current = index;
      return current ? `${how}, ${(current.bytesRead() / 1024).toFixed(0)} KiB read` : how;
    },
    close: () => index?.close(),
  };
}
