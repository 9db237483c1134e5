import type { ChunkRange, Rational } from "../../workers/transcoding/contract.ts";
import { rationalToNumber } from "./probe.ts";

/**
 * Cutting a title into ranges that chunk tasks encode in parallel. Pure (the keyframe lookup is
 * passed in), so every rule is unit-tested without ffmpeg.
 *
 * A range starts on a keyframe of the source, so its task starts decoding exactly where its
 * frames begin and reads nothing of the range before it. It also starts on the output frame grid
 * of every rung: a rung made at 30 fps from a 60 fps source keeps every second frame, and a range
 * that began on an odd frame would keep the other half, so its frames would be one source frame
 * off and its count one frame off. With both, each range's frames in each rung are exactly the
 * ones one continuous encode would make, and the chunks join without a gap or an overlap.
 */

export interface Keyframe {
  /** In the video stream's time base. */
  pts: number;
  seconds: number;
}

/** The keyframe at or before each of `seconds` (null where there is none), in one pass. */
export type KeyframeLookup = (seconds: readonly number[]) => Promise<(Keyframe | null)[]>;

export interface ChunkPlanInput {
  /** The first frame of the video: where the first range starts. */
  first: Keyframe;
  /** Source seconds at which the title ends (start time plus declared duration). */
  endSeconds: number;
  originSeconds: number;
  chunkSeconds: number;
  /** The frame rate of every rung: boundaries must fall on each one's frame grid. */
  rungRates: readonly Rational[];
  /** How far back to look for a keyframe on the grid before taking one that is not (default 3). */
  gridSearchDepth?: number;
}

export interface ChunkPlan {
  ranges: ChunkRange[];
  /** Boundaries that fell off some rung's frame grid (no keyframe on it nearby): ±1 frame there. */
  offGrid: number;
}

/**
 * @example
 * await planChunks({ first: { pts: 0, seconds: 0 }, endSeconds: 300, originSeconds: 0, chunkSeconds: 120, rungRates }, lookup)
 * // 3 ranges: [0, ~120), [~120, ~240), [~240, end), each starting on a keyframe at or before its target
 */
export async function planChunks(input: ChunkPlanInput, lookup: KeyframeLookup): Promise<ChunkPlan> {
  const { first, endSeconds, chunkSeconds } = input;
  if (!(chunkSeconds > 0)) throw new RangeError("chunkSeconds must be positive");
  const length = endSeconds - first.seconds;
  // A tail shorter than a quarter chunk rides with the chunk before it rather than costing a task.
  const count = Math.max(1, Math.round(length / chunkSeconds + 0.25 - 1e-9));
  const targets = Array.from({ length: count - 1 }, (_, index) => first.seconds + (index + 1) * chunkSeconds);

  let offGrid = 0;
  const found = await lookup(targets);
  const boundaries: Keyframe[] = [];
  const candidates = found.map((keyframe) => (keyframe ? [keyframe] : []));
  // Keyframes off some rung's grid: look further back, a few keyframes at most, all targets at once.
  for (let depth = 0; depth < (input.gridSearchDepth ?? 3); depth++) {
    const pending = candidates.flatMap((list, index) =>
      list.length > 0 && !list.some((keyframe) => onGrid(keyframe, input)) ? [index] : [],
    );
    if (pending.length === 0) break;
    const earlier = await lookup(pending.map((index) => (candidates[index]?.at(-1)?.seconds ?? 0) - 1e-3));
    pending.forEach((index, at) => {
      const keyframe = earlier[at];
      const list = candidates[index] as Keyframe[];
      if (keyframe && keyframe.seconds < (list.at(-1)?.seconds ?? Number.NEGATIVE_INFINITY)) list.push(keyframe);
    });
  }
  for (const list of candidates) {
    const chosen = list.find((keyframe) => onGrid(keyframe, input)) ?? list[0];
    if (!chosen) continue;
    if (!onGrid(chosen, input)) offGrid++;
    boundaries.push(chosen);
  }

  // In order, and no range shorter than a quarter chunk (a GOP longer than a chunk, or a tail).
  const starts: Keyframe[] = [first];
  for (const keyframe of boundaries.sort((a, b) => a.seconds - b.seconds)) {
    const previous = starts.at(-1) as Keyframe;
    if (keyframe.seconds - previous.seconds >= chunkSeconds / 4 && endSeconds - keyframe.seconds >= chunkSeconds / 4) starts.push(keyframe);
  }
  const ranges = starts.map((start, index): ChunkRange => {
    const next = starts[index + 1];
    return {
      index,
      startPts: start.pts,
      startSeconds: start.seconds,
      endPts: next ? next.pts : null,
      endSeconds: next ? next.seconds : endSeconds,
    };
  });
  return { ranges, offGrid };
}

/** Whether a keyframe lies on every rung's frame grid, counted from the origin. */
function onGrid(keyframe: Keyframe, input: Pick<ChunkPlanInput, "originSeconds" | "rungRates">): boolean {
  return input.rungRates.every((rate) => {
    const frames = (keyframe.seconds - input.originSeconds) * rationalToNumber(rate);
    return Math.abs(frames - Math.round(frames)) < 1e-3;
  });
}

/**
 * The output frame a range starts at in a rung: its place in the title on that rung's grid. The
 * chunk's decode times are shifted by this many frames.
 */
export function firstFrameOf(range: Pick<ChunkRange, "startSeconds">, originSeconds: number, rate: Rational): number {
  return Math.round((range.startSeconds - originSeconds) * rationalToNumber(rate));
}
