/**
 * The few fragmented-MP4 (ISO BMFF) fields that joining separately encoded chunks touches.
 *
 * ffmpeg's HLS muxer starts every output's decode times at 0 (`tfdt` in each `moof`, and the
 * `sidx` before it); an `-output_ts_offset` or `-copyts` would only reach the init segment's edit
 * list, which would then differ from chunk to chunk. So chunks are encoded from 0, which makes
 * their init segments the same bytes, and each segment's decode times are moved here to where the
 * chunk lies in the title. One init segment then serves every chunk of a rung, and a player sees
 * one continuous rendition. The fields are fixed-size: a segment is patched in place.
 *
 * Boxes: `moof` > `mfhd` (sequence number), `traf` > `tfhd` (defaults), `tfdt` (base media decode
 * time), `trun` (samples); `sidx` (earliest presentation time); in the init segment `moov` >
 * `trak` > `mdia` > `mdhd` (timescale) and `mvex` > `trex` (defaults).
 */

interface Box {
  type: string;
  /** Offset of the box's first byte. */
  start: number;
  /** Offset of its payload (after size and type). */
  payload: number;
  end: number;
}

function* boxes(data: Buffer, from = 0, to = data.length): Generator<Box> {
  let at = from;
  while (at + 8 <= to) {
    let size = data.readUInt32BE(at);
    const type = data.toString("latin1", at + 4, at + 8);
    let payload = at + 8;
    if (size === 1) {
      size = Number(data.readBigUInt64BE(at + 8));
      payload = at + 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < payload - at || at + size > to) throw new Fmp4Error(`the '${type}' box at byte ${at} runs past its parent`);
    yield { type, start: at, payload, end: at + size };
    at += size;
  }
}

function child(data: Buffer, parent: Box, type: string): Box | undefined {
  for (const box of boxes(data, parent.payload, parent.end)) if (box.type === type) return box;
  return undefined;
}

function find(data: Buffer, path: string[]): Box | undefined {
  let scope: Box = { type: "", start: 0, payload: 0, end: data.length };
  for (const type of path) {
    const next = child(data, scope, type);
    if (!next) return undefined;
    scope = next;
  }
  return scope;
}

export class Fmp4Error extends Error {
  override readonly name = "Fmp4Error";
}

export interface InitSegmentInfo {
  /** Ticks per second of the (first) track. */
  timescale: number;
  /** `trex` default sample duration, for fragments whose `tfhd` and `trun` give none. */
  defaultSampleDuration: number;
}

/** Reads the track's timescale and fragment defaults from an init segment. */
export function readInitSegment(data: Buffer): InitSegmentInfo {
  const mdhd = find(data, ["moov", "trak", "mdia", "mdhd"]);
  if (!mdhd) throw new Fmp4Error("the init segment has no moov/trak/mdia/mdhd box");
  // version 1: creation and modification times are 64-bit.
  const timescale = data.readUInt32BE(mdhd.payload + (data[mdhd.payload] === 1 ? 20 : 12));
  const trex = find(data, ["moov", "mvex", "trex"]);
  return { timescale, defaultSampleDuration: trex ? data.readUInt32BE(trex.payload + 12) : 0 };
}

export interface FragmentSummary {
  /** Decode time of the first sample, after the shift. */
  startTicks: number;
  /** Sum of every sample's duration. */
  ticks: number;
  samples: number;
}

/**
 * Moves every fragment of a media segment by `offsetTicks` (`tfdt`, and `sidx`'s earliest
 * presentation time) and adds `sequenceBase` to its fragment sequence numbers, so that they keep
 * rising across the chunks of a rendition. Changes `data` in place; returns what the segment holds.
 *
 * @example
 * const segment = await readFile(path);
 * const { ticks, samples } = shiftFragments(segment, { offsetTicks: 350 * 512, sequenceBase: 300_000 }, init);
 * await writeFile(path, segment);
 */
export function shiftFragments(
  data: Buffer,
  shift: { offsetTicks: number; sequenceBase: number },
  init: Pick<InitSegmentInfo, "defaultSampleDuration">,
): FragmentSummary {
  let startTicks: number | null = null;
  let ticks = 0;
  let samples = 0;
  for (const box of boxes(data)) {
    if (box.type === "sidx") {
      // version, flags, reference_ID, timescale, then earliest_presentation_time (32 or 64 bits).
      const at = box.payload + 12;
      if (data[box.payload] === 1) data.writeBigUInt64BE(data.readBigUInt64BE(at) + BigInt(shift.offsetTicks), at);
      else data.writeUInt32BE(checkedUint32(data.readUInt32BE(at) + shift.offsetTicks, "sidx"), at);
    }
    if (box.type !== "moof") continue;
    const mfhd = child(data, box, "mfhd");
    if (mfhd) data.writeUInt32BE(checkedUint32(data.readUInt32BE(mfhd.payload + 4) + shift.sequenceBase, "mfhd"), mfhd.payload + 4);
    for (const traf of boxes(data, box.payload, box.end)) {
      if (traf.type !== "traf") continue;
      const tfdt = child(data, traf, "tfdt");
      if (!tfdt) throw new Fmp4Error("a fragment has no tfdt box: its decode time cannot be moved");
      const at = tfdt.payload + 4;
      let decodeTime: number;
      if (data[tfdt.payload] === 1) {
        const moved = data.readBigUInt64BE(at) + BigInt(shift.offsetTicks);
        data.writeBigUInt64BE(moved, at);
        decodeTime = Number(moved);
      } else {
        decodeTime = checkedUint32(data.readUInt32BE(at) + shift.offsetTicks, "tfdt");
        data.writeUInt32BE(decodeTime, at);
      }
      startTicks ??= decodeTime;
      const run = trackRun(data, traf, init.defaultSampleDuration);
      ticks += run.ticks;
      samples += run.samples;
    }
  }
  if (startTicks === null) throw new Fmp4Error("the segment holds no movie fragment");
  return { startTicks, ticks, samples };
}

/** Sample count and total duration of a track fragment's runs. */
function trackRun(data: Buffer, traf: Box, trexDuration: number): { samples: number; ticks: number } {
  const tfhd = child(data, traf, "tfhd");
  let defaultDuration = trexDuration;
  if (tfhd) {
    const flags = data.readUInt32BE(tfhd.payload) & 0xffffff;
    let at = tfhd.payload + 8; // version/flags, track_ID
    if (flags & 0x01) at += 8; // base_data_offset
    if (flags & 0x02) at += 4; // sample_description_index
    if (flags & 0x08) defaultDuration = data.readUInt32BE(at);
  }
  let samples = 0;
  let ticks = 0;
  for (const trun of boxes(data, traf.payload, traf.end)) {
    if (trun.type !== "trun") continue;
    const flags = data.readUInt32BE(trun.payload) & 0xffffff;
    const count = data.readUInt32BE(trun.payload + 4);
    let at = trun.payload + 8;
    if (flags & 0x001) at += 4; // data_offset
    if (flags & 0x004) at += 4; // first_sample_flags
    const fields = [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
    for (let sample = 0; sample < count; sample++) {
      ticks += flags & 0x100 ? data.readUInt32BE(at) : defaultDuration;
      at += 4 * fields;
    }
    samples += count;
  }
  return { samples, ticks };
}

function checkedUint32(value: number, box: string): number {
  if (value < 0 || value > 0xffffffff) throw new Fmp4Error(`the shifted ${box} value ${value} does not fit its 32-bit field`);
  return value;
}
