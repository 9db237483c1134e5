/** One rendition as hls.js lists it (`hls.levels`). */
export interface LevelInfo {
  width: number;
  height: number;
  /** Bits per second (the master playlist's BANDWIDTH). */
  bitrate: number;
}

/** Of the measured bandwidth, this share is spent on video: headroom for audio, and for a dip. */
const BANDWIDTH_SHARE = 0.7;

/**
 * The rendition of the first segment: the tallest one that both fits the player (in device pixels:
 * the smallest level at least as large as the picture, as hls.js's `capLevelToPlayerSize` picks)
 * and whose bitrate fits the bandwidth estimate; the smallest when none fits.
 *
 * @example
 * // A 390-px phone at 2x (780x439 device pixels) on 10 Mbit/s: the 480p level, not 720p.
 * chooseStartLevel(levels, { width: 780, height: 439 }, 10_000_000)
 */
export function chooseStartLevel(levels: readonly LevelInfo[], player: { width: number; height: number }, bandwidth: number): number {
  if (levels.length === 0) return -1;
  const order = levels.map((level, index) => ({ ...level, index })).sort((a, b) => a.height - b.height || a.bitrate - b.bitrate);
  const fitsPlayer = order.find((level) => level.width >= player.width || level.height >= player.height) ?? order.at(-1);
  const sizeCap = fitsPlayer?.height ?? Number.POSITIVE_INFINITY;
  const affordable = order.filter((level) => level.height <= sizeCap && level.bitrate <= bandwidth * BANDWIDTH_SHARE);
  return (affordable.at(-1) ?? order[0])?.index ?? -1;
}

/**
 * The bandwidth to start from: this device's last measurement (the play answer's hint), else the
 * browser's own estimate (Network Information API, where there is one), else 2 Mbit/s.
 */
export function startingBandwidth(hint: number | null): number {
  if (hint) return hint;
  const downlink = (navigator as Navigator & { connection?: { downlink?: number } }).connection?.downlink;
  return downlink && downlink > 0 ? downlink * 1_000_000 : 2_000_000;
}
