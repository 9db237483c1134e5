/**
 * HLS playlist rewriting, per viewer. Playlists are small text files: the Worker caches the
 * transcoder's originals and rewrites them for each request, after the cache.
 */

export interface Variant {
  /** The URI as written in the master playlist, relative to it. */
  uri: string;
  /**
   * The rendition's class from `RESOLUTION=WxH`: its short side, so a portrait 1080x1920 rung is
   * "1080p" like a landscape 1920x1080 one (plans cap quality, not orientation). Null when the
   * variant does not say (audio-only).
   */
  height: number | null;
}

const streamInf = /^#EXT-X-STREAM-INF:(.*)$/;
const iFrameStreamInf = /^#EXT-X-I-FRAME-STREAM-INF:(.*)$/;

function attribute(attributes: string, name: string): string | undefined {
  // Attribute values are either quoted strings or tokens without commas (RFC 8216 §4.2).
  const match = new RegExp(`(?:^|,)${name}=("[^"]*"|[^,]*)`).exec(attributes);
  return match?.[1]?.replace(/^"(.*)"$/, "$1");
}

function heightOf(attributes: string): number | null {
  const [width, height] = (attribute(attributes, "RESOLUTION") ?? "").split("x").map(Number);
  return width !== undefined && height !== undefined && Number.isFinite(width) && Number.isFinite(height) ? Math.min(width, height) : null;
}

interface MasterEntry {
  variant: Variant;
  /** Lines that make up the entry: the tag, and for EXT-X-STREAM-INF the URI line after it. */
  lines: number[];
}

function masterEntries(lines: string[]): MasterEntry[] {
  const entries: MasterEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? "";
    const stream = streamInf.exec(line);
    if (stream?.[1] !== undefined) {
      let j = i + 1;
      while (j < lines.length && (lines[j]?.trim() === "" || lines[j]?.trim().startsWith("#"))) j++;
      const uri = lines[j]?.trim();
      if (uri) entries.push({ variant: { uri, height: heightOf(stream[1]) }, lines: [i, j] });
      i = j;
      continue;
    }
    const iFrame = iFrameStreamInf.exec(line);
    if (iFrame?.[1] !== undefined) {
      const uri = attribute(iFrame[1], "URI");
      if (uri) entries.push({ variant: { uri, height: heightOf(iFrame[1]) }, lines: [i] });
    }
  }
  return entries;
}

/** The variants a master playlist lists (video renditions and I-frame playlists). */
export function masterVariants(master: string): Variant[] {
  return masterEntries(master.split("\n")).map((entry) => entry.variant);
}

/**
 * The variants a viewer may receive: none taller than `maxHeight`. When every rendition is taller
 * (a source that was only ever 720p, on a 480p plan), the shortest ones stay, so the title still plays.
 */
export function allowedVariants(variants: Variant[], maxHeight: number): Variant[] {
  const fits = variants.filter((variant) => variant.height === null || variant.height <= maxHeight);
  if (fits.some((variant) => variant.height !== null) || variants.every((variant) => variant.height === null)) return fits;
  const shortest = Math.min(...variants.map((variant) => variant.height ?? Number.POSITIVE_INFINITY));
  return variants.filter((variant) => variant.height === null || variant.height === shortest);
}

/**
 * The master playlist for one viewer: variants above `maxHeight` are removed (with their
 * `EXT-X-STREAM-INF` line), everything else is kept as the transcoder wrote it.
 *
 * @example
 * capMasterPlaylist(master, 480); // no 720p or 1080p variant left
 */
export function capMasterPlaylist(master: string, maxHeight: number): string {
  const lines = master.split("\n");
  const entries = masterEntries(lines);
  const allowed = new Set(
    allowedVariants(
      entries.map((entry) => entry.variant),
      maxHeight,
    ),
  );
  const dropped = new Set(entries.filter((entry) => !allowed.has(entry.variant)).flatMap((entry) => entry.lines));
  return lines.filter((_, index) => !dropped.has(index)).join("\n");
}

/** The folder of a playlist URI, relative to the master: `720p/index.m3u8` -> `720p/`. */
function folderOf(uri: string): string {
  const slash = uri.lastIndexOf("/");
  return slash < 0 ? "" : uri.slice(0, slash + 1);
}

const mediaTag = /^#EXT-X-MEDIA:(.*)$/;

/** URIs of the master's `EXT-X-MEDIA` renditions (audio, subtitles), which every variant may use. */
function mediaGroupUris(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const attributes = mediaTag.exec(line.trim())?.[1];
    const uri = attributes === undefined ? undefined : attribute(attributes, "URI");
    return uri ? [uri] : [];
  });
}

/** Whether a viewer may read a path below the master's folder: see `folderAccess`. */
export type FolderAccess = "open" | "above-plan" | "unknown";

/**
 * Which objects below the master's folder a viewer capped at `maxHeight` may read, decided by the
 * master itself and closed by default:
 * - `open`: files beside the master (poster, storyboard) and the folders of the variants the
 *   viewer receives and of the `EXT-X-MEDIA` renditions (audio), i.e. what their capped master leads to;
 * - `above-plan`: the folder of a variant taller than the plan, so a 480p plan cannot fetch
 *   `1080p/seg_00001.m4s` by guessing its name;
 * - `unknown`: a folder the master does not name at all (refused too: nothing a player needs is there).
 *
 * @example
 * folderAccess(master, 480, "1080p/seg_00001.m4s"); // "above-plan"
 */
export function folderAccess(master: string, maxHeight: number, path: string): FolderAccess {
  const folder = folderOf(path);
  if (folder === "") return "open";
  const lines = master.split("\n");
  const variants = masterEntries(lines).map((entry) => entry.variant);
  const open = new Set([
    ...allowedVariants(variants, maxHeight).map((variant) => folderOf(variant.uri)),
    ...mediaGroupUris(lines).map(folderOf),
  ]);
  if (open.has(folder)) return "open";
  return variants.some((variant) => folderOf(variant.uri) === folder) ? "above-plan" : "unknown";
}

const uriAttribute = /URI="([^"]*)"/g;

/**
 * Applies `rewrite` to every URI of a playlist: URI lines (segments, variant playlists) and
 * `URI="…"` attributes (`EXT-X-MAP` init segments, `EXT-X-MEDIA`, `EXT-X-KEY`, I-frame playlists).
 */
export function rewritePlaylistUris(playlist: string, rewrite: (uri: string) => string): string {
  return playlist
    .split("\n")
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed === "") return line;
      if (trimmed.startsWith("#")) return line.replace(uriAttribute, (_, uri: string) => `URI="${rewrite(uri)}"`);
      return rewrite(trimmed);
    })
    .join("\n");
}

/**
 * Makes every URI of a playlist carry the viewer's token. Relative URIs already do (the token is a
 * path segment above them); root-relative ones into this video's media space (`/media/{id}/…`)
 * get the token inserted; URIs elsewhere are left alone.
 */
export function carryToken(playlist: string, videoId: string, token: string): string {
  const unsigned = `/media/${videoId}/`;
  return rewritePlaylistUris(playlist, (uri) =>
    uri.startsWith(unsigned) && !uri.startsWith(`${unsigned}${token}/`) ? `${unsigned}${token}/${uri.slice(unsigned.length)}` : uri,
  );
}
