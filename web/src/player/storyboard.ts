/** One storyboard cue: the sprite tile shown for times in [start, end). */
export interface StoryboardCue {
  start: number;
  end: number;
  image: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

function seconds(timestamp: string): number {
  const parts = timestamp.trim().split(":").map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

/**
 * Parses a WebVTT storyboard whose cues name sprite tiles (`sprite.jpg#xywh=0,0,160,90`); image
 * URLs are resolved against the VTT's own URL, so a signed path carries over to the sprite.
 */
export function parseStoryboard(vtt: string, baseUrl: string): StoryboardCue[] {
  const cues: StoryboardCue[] = [];
  const blocks = vtt.replace(/\r\n?/g, "\n").split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split("\n").filter((line) => line.trim() !== "");
    const timing = lines.findIndex((line) => line.includes("-->"));
    const target = timing >= 0 ? lines[timing + 1] : undefined;
    if (timing < 0 || !target) continue;
    const [from = "", to = ""] = (lines[timing] ?? "").split("-->");
    const match = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target.trim());
    if (!match) continue;
    const [, image = "", x, y, width, height] = match;
    cues.push({
      start: seconds(from),
      end: seconds(to.trim().split(/\s/)[0] ?? ""),
      image: new URL(image, baseUrl).href,
      x: Number(x),
      y: Number(y),
      width: Number(width),
      height: Number(height),
    });
  }
  return cues;
}

export function cueAt(cues: StoryboardCue[], time: number): StoryboardCue | undefined {
  return cues.find((cue) => time >= cue.start && time < cue.end) ?? (time >= (cues.at(-1)?.end ?? 0) ? cues.at(-1) : undefined);
}
