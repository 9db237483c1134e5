import { open } from "node:fs/promises";

/**
 * Finishing the HLS master playlist. ffmpeg 5.1 writes one, but its BANDWIDTH is the encoder's
 * nominal bitrate plus 10% (not the measured peak the HLS spec asks for), it has no FRAME-RATE or
 * AVERAGE-BANDWIDTH, and it lists the audio rendition as an audio-only variant that a player on a
 * slow start would pick for a movie. So each variant is measured from its segments on disk and its
 * attributes rewritten; everything else ffmpeg wrote (the audio group) is kept.
 */

export interface MediaPlaylist {
  targetDurationSeconds: number;
  initUri: string | null;
  segments: { uri: string; durationSeconds: number }[];
}

export interface RenditionMeasurement {
  durationSeconds: number;
  /** Bits per second over the whole rendition. */
  averageBitrate: number;
  /** The HLS spec's peak segment bit rate (windows of 0.5–1.5 target durations). */
  peakBitrate: number;
  /** RFC 6381 codec string from the init segment, e.g. "avc1.64001f" or "mp4a.40.2". */
  codec: string | null;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  let targetDurationSeconds = 0;
  let initUri: string | null = null;
  let pendingDuration: number | null = null;
  const segments: MediaPlaylist["segments"] = [];
  for (const line of lines) {
    if (line.startsWith("#EXT-X-TARGETDURATION:")) targetDurationSeconds = Number(line.slice("#EXT-X-TARGETDURATION:".length));
    else if (line.startsWith("#EXT-X-MAP:")) initUri = parseAttributes(line.slice("#EXT-X-MAP:".length)).get("URI") ?? null;
    else if (line.startsWith("#EXTINF:")) pendingDuration = Number.parseFloat(line.slice("#EXTINF:".length));
    else if (line !== "" && !line.startsWith("#") && pendingDuration !== null) {
      segments.push({ uri: line, durationSeconds: pendingDuration });
      pendingDuration = null;
    }
  }
  return { targetDurationSeconds, initUri, segments };
}

/**
 * A VOD media playlist from its segments (URIs relative to the playlist), under one init segment:
 * what the finalize task writes for each rung, joining the chunks' segments, and for the audio.
 * No EXT-X-DISCONTINUITY: the segments' decode times run on from one to the next.
 */
export function buildMediaPlaylist(initUri: string, segments: readonly { uri: string; durationSeconds: number }[]): string {
  // RFC 8216 §4.3.3.1: every EXTINF, rounded to the nearest integer, is at most the target duration.
  const target = Math.max(1, ...segments.map((segment) => Math.round(segment.durationSeconds)));
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${target}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    `#EXT-X-MAP:URI="${initUri}"`,
  ];
  for (const segment of segments) lines.push(`#EXTINF:${segment.durationSeconds.toFixed(6)},`, segment.uri);
  lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

/** Measures a rendition from its segments' durations and sizes, as `measureRendition` does from files. */
export function measureSegments(
  segments: readonly { durationSeconds: number; bytes: number }[],
  codec: string | null,
): RenditionMeasurement {
  const durationSeconds = segments.reduce((sum, segment) => sum + segment.durationSeconds, 0);
  const bytes = segments.reduce((sum, segment) => sum + segment.bytes, 0);
  const target = Math.max(1, ...segments.map((segment) => Math.round(segment.durationSeconds)));
  return {
    durationSeconds,
    averageBitrate: durationSeconds > 0 ? Math.round((bytes * 8) / durationSeconds) : 0,
    peakBitrate: peakSegmentBitrate(segments, target),
    codec,
  };
}

/**
 * RFC 8216 §4.3.4.2: the peak segment bit rate is the largest bit rate of any run of consecutive
 * segments lasting between 0.5 and 1.5 times the target duration. A single short last segment is
 * not such a run on its own, so it does not inflate the figure.
 */
export function peakSegmentBitrate(segments: readonly { durationSeconds: number; bytes: number }[], targetDurationSeconds: number): number {
  const target = targetDurationSeconds > 0 ? targetDurationSeconds : Math.max(...segments.map((s) => s.durationSeconds), 0);
  let peak = 0;
  for (let start = 0; start < segments.length; start++) {
    let seconds = 0;
    let bytes = 0;
    for (let end = start; end < segments.length; end++) {
      const segment = segments[end] as { durationSeconds: number; bytes: number };
      seconds += segment.durationSeconds;
      bytes += segment.bytes;
      if (seconds > 1.5 * target) break;
      if (seconds >= 0.5 * target) peak = Math.max(peak, (bytes * 8) / seconds);
    }
  }
  if (peak === 0 && segments.length > 0) {
    // A video shorter than half a target duration: its only run is the whole of it.
    const seconds = segments.reduce((sum, s) => sum + s.durationSeconds, 0);
    const bytes = segments.reduce((sum, s) => sum + s.bytes, 0);
    peak = seconds > 0 ? (bytes * 8) / seconds : 0;
  }
  return Math.round(peak);
}

/**
 * Reads the codec string from an fMP4 init segment: `avc1.` plus the profile, constraint and
 * level bytes of the avcC box for H.264, `mp4a.40.<object type>` for AAC. ffmpeg's own string is
 * not relied on because it is absent when the encoder's extradata arrives late.
 */
export async function readCodecString(initPath: string): Promise<string | null> {
  const handle = await open(initPath, "r");
  try {
    // Init segments are a few kB; 64 kB covers them without reading a mis-pointed large file.
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const data = buffer.subarray(0, bytesRead);
    const avcC = data.indexOf("avcC");
    if (avcC >= 0 && avcC + 8 <= data.length) {
      return `avc1.${[data[avcC + 5], data[avcC + 6], data[avcC + 7]].map((byte) => (byte ?? 0).toString(16).padStart(2, "0")).join("")}`;
    }
    const esds = data.indexOf("esds");
    if (esds >= 0) return `mp4a.40.${aacObjectType(data, esds + 8) ?? 2}`;
    return null;
  } finally {
    await handle.close();
  }
}

/**
 * Walks an esds box's descriptors (ES 0x03, DecoderConfig 0x04, DecoderSpecificInfo 0x05) to the
 * AudioSpecificConfig, whose top five bits are the AAC audio object type (2 for AAC-LC).
 */
function aacObjectType(data: Buffer, start: number): number | null {
  let at = start;
  const byte = () => data[at++] ?? 0;
  const descriptor = () => {
    const tag = byte();
    for (let i = 0; i < 4 && byte() & 0x80; i++); // the length, 7 bits a byte; not needed here
    return tag;
  };
  if (descriptor() !== 0x03) return null;
  at += 2; // ES_ID
  const flags = byte();
  if (flags & 0x80) at += 2; // depends on another stream
  if (flags & 0x40) at += 1 + (data[at] ?? 0); // URL
  if (flags & 0x20) at += 2; // OCR stream
  if (descriptor() !== 0x04) return null;
  at += 13; // object type, stream type, buffer size, max and average bitrate
  if (descriptor() !== 0x05) return null;
  return byte() >> 3 || null;
}

export interface VariantFacts {
  /** The variant's URI as the master lists it ("720p/index.m3u8"). */
  uri: string;
  width: number;
  height: number;
  frameRate: number;
  video: RenditionMeasurement;
}

export interface MasterFacts {
  variants: VariantFacts[];
  /** The audio rendition all variants share, when there is one. */
  audio: { uri: string; measurement: RenditionMeasurement } | null;
}

/**
 * The master playlist: the audio group when there is audio, and one EXT-X-STREAM-INF per video
 * rendition with measured BANDWIDTH (video peak plus audio peak, the largest playable combination)
 * and AVERAGE-BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS; EXT-X-INDEPENDENT-SEGMENTS declared.
 */
export function buildMasterPlaylist(facts: MasterFacts): string {
  const group = "group_audio";
  const { audio } = facts;
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
  if (audio) lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${group}",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="${audio.uri}"`);
  for (const variant of facts.variants) {
    const codecs = [variant.video.codec, audio ? (audio.measurement.codec ?? "mp4a.40.2") : null].filter(Boolean).join(",");
    const attributes = [
      `BANDWIDTH=${variant.video.peakBitrate + (audio?.measurement.peakBitrate ?? 0)}`,
      `AVERAGE-BANDWIDTH=${variant.video.averageBitrate + (audio?.measurement.averageBitrate ?? 0)}`,
      `RESOLUTION=${variant.width}x${variant.height}`,
      `FRAME-RATE=${variant.frameRate.toFixed(3)}`,
      `CODECS="${codecs}"`,
      ...(audio ? [`AUDIO="${group}"`] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(",")}`, variant.uri, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** Parses an HLS attribute list; quoted values are returned without their quotes. */
export function parseAttributes(list: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const [name, value] of rawAttributes(list)) attributes.set(name, value.startsWith('"') ? value.slice(1, -1) : value);
  return attributes;
}

/** An HLS attribute list with values exactly as written (quoted strings keep their quotes). */
function rawAttributes(list: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attributes.set(match[1] as string, match[2] ?? "");
  return attributes;
}
