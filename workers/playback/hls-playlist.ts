/**
 * HLS playlist rewriting, per viewer. Playlists are small text files: the Worker caches the
 * transcoder's originals and rewrites them for each request, after the cache.
 *
 * A playlist served to a viewer leads only to this video's own media: every URI it keeps is
 * relative to the playlist and stays inside the video's folder (`ownUri`), or is root-relative into
 * this video's media space (`/media/{videoId}/…`). A master's variant, rendition or other tag that
 * points anywhere else (another host, another video, a `..` path) is dropped, and so is a variant
 * that does not say how tall it is (no `RESOLUTION`): the plan cap could not hold it. A media
 * playlist with such a URI is not served at all (`ownMediaPlaylist`). The same rules decide what
 * the Worker publishes (`masterProblems`), so a master that breaks them never becomes a video's.
 */

export interface Variant {
  /** The URI as written in the master playlist, relative to it. */
  uri: string;
  /**
   * The rendition's class from `RESOLUTION=WxH`: its short side, so a portrait 1080x1920 rung is
   * "1080p" like a landscape 1920x1080 one (plans cap quality, not orientation).
   */
  height: number;
}

const streamInf = /^#EXT-X-STREAM-INF:(.*)$/;
const iFrameStreamInf = /^#EXT-X-I-FRAME-STREAM-INF:(.*)$/;
const mediaTag = /^#EXT-X-MEDIA:(.*)$/;
const uriAttribute = /URI="([^"]*)"/g;

function attribute(attributes: string, name: string): string | undefined {
  // Attribute values are either quoted strings or tokens without commas (RFC 8216 §4.2).
  const match = new RegExp(`(?:^|,)${name}=("[^"]*"|[^,]*)`).exec(attributes);
  return match?.[1]?.replace(/^"(.*)"$/, "$1");
}

function heightOf(attributes: string): number | null {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(attribute(attributes, "RESOLUTION") ?? "");
  if (!match) return null;
  const short = Math.min(Number(match[1]), Number(match[2]));
  return short > 0 ? short : null;
}

/**
 * Whether `uri`, found in a playlist of `videoId`, leads to that video's own media: a relative path
 * that does not climb out of the playlist's folder (no scheme, no `//host`, no `.` or `..` segment,
 * no query, fragment, backslash or control character), or a root-relative path into the video's
 * media space (`/media/{videoId}/…`, the same rules after it).
 *
 * @example
 * ownUri("720p/index.m3u8", id) // true
 * ownUri("http://attacker.example/injected/index.m3u8", id) // false
 */
export function ownUri(uri: string, videoId: string): boolean {
  const mediaSpace = `/media/${videoId}/`;
  const path = uri.startsWith(mediaSpace) ? uri.slice(mediaSpace.length) : uri;
  if (path === "" || path.startsWith("/") || /[\\?#%\p{Cc}\s]/u.test(path) || /^[a-z][a-z0-9+.-]*:/i.test(path)) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** One entry of a master playlist: a variant (its tag and URI line), or a tag line that names a URI. */
interface MasterEntry {
  /** Lines that make up the entry: the tag, and for EXT-X-STREAM-INF the URI line after it. */
  lines: number[];
  uris: string[];
  /** The variant it is (STREAM-INF, I-FRAME-STREAM-INF), when it is one. */
  variant?: { uri: string; height: number | null };
  /** An EXT-X-MEDIA rendition (audio, subtitles): every variant may use it. */
  media?: boolean;
}

function masterEntries(lines: string[]): MasterEntry[] {
  const entries: MasterEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? "";
    const stream = streamInf.exec(line);
    if (stream?.[1] !== undefined) {
      let j = i + 1;
      while (j < lines.length && (lines[j]?.trim() === "" || lines[j]?.trim().startsWith("#"))) j++;
      const uri = lines[j]?.trim() ?? "";
      entries.push({ lines: uri ? [i, j] : [i], uris: [uri], variant: { uri, height: heightOf(stream[1]) } });
      i = uri ? j : i;
      continue;
    }
    const iFrame = iFrameStreamInf.exec(line);
    if (iFrame?.[1] !== undefined) {
      const uri = attribute(iFrame[1], "URI") ?? "";
      entries.push({ lines: [i], uris: [uri], variant: { uri, height: heightOf(iFrame[1]) } });
      continue;
    }
    if (line.startsWith("#")) {
      const uris = [...line.matchAll(uriAttribute)].map((match) => match[1] ?? "");
      if (uris.length > 0) entries.push({ lines: [i], uris, media: mediaTag.test(line) });
    } else if (line !== "") {
      // A URI line with no EXT-X-STREAM-INF before it: nothing a player should fetch.
      entries.push({ lines: [i], uris: [line] });
    }
  }
  return entries;
}

/** Whether an entry may reach a viewer: every URI its own, and a variant tall by its RESOLUTION. */
function servable(entry: MasterEntry, videoId: string): boolean {
  if (entry.uris.some((uri) => !ownUri(uri, videoId))) return false;
  if (entry.variant) return entry.variant.height !== null;
  return entry.media === true;
}

function servedVariants(entries: MasterEntry[], videoId: string): Variant[] {
  return entries.flatMap((entry) =>
    entry.variant && servable(entry, videoId) ? [{ uri: entry.variant.uri, height: entry.variant.height as number }] : [],
  );
}

/** The variants of a master playlist a viewer may be served (video renditions and I-frame playlists). */
export function masterVariants(master: string, videoId: string): Variant[] {
  return servedVariants(masterEntries(master.split("\n")), videoId);
}

/**
 * What keeps a master from being published as video `videoId`'s, in words (empty: nothing): a
 * variant without a height, a URI that leads outside the video, no variant at all.
 */
export function masterProblems(master: string, videoId: string): string[] {
  const entries = masterEntries(master.split("\n"));
  const problems = entries.flatMap((entry) => {
    const foreign = entry.uris.filter((uri) => !ownUri(uri, videoId));
    if (foreign.length > 0) return [`it names ${foreign.map((uri) => JSON.stringify(uri)).join(", ")}, outside the title`];
    if (entry.variant && entry.variant.height === null) return [`variant ${JSON.stringify(entry.variant.uri)} has no RESOLUTION`];
    if (!entry.variant && !entry.media) return [`line ${(entry.lines[0] ?? 0) + 1} names a URI outside any variant`];
    return [];
  });
  if (!master.startsWith("#EXTM3U")) problems.unshift("it is not an HLS playlist");
  if (servedVariants(entries, videoId).length === 0) problems.push("it lists no variant");
  return problems;
}

/**
 * The variants a viewer may receive: none taller than `maxHeight`. When every rendition is taller
 * (a source that was only ever 720p, on a 480p plan), the shortest ones stay, so the title still plays.
 */
export function allowedVariants(variants: Variant[], maxHeight: number): Variant[] {
  const fits = variants.filter((variant) => variant.height <= maxHeight);
  if (fits.length > 0) return fits;
  const shortest = Math.min(...variants.map((variant) => variant.height));
  return variants.filter((variant) => variant.height === shortest);
}

/**
 * The master playlist for one viewer: only what may be served (see above), and no variant above
 * `maxHeight` (with its `EXT-X-STREAM-INF` line); everything else as the transcoder wrote it.
 *
 * @example
 * capMasterPlaylist(master, videoId, 480); // no 720p or 1080p variant, nothing of another host
 */
export function capMasterPlaylist(master: string, videoId: string, maxHeight: number): string {
  const lines = master.split("\n");
  const entries = masterEntries(lines);
  const allowed = new Set(allowedVariants(servedVariants(entries, videoId), maxHeight).map((variant) => variant.uri));
  const dropped = new Set(
    entries
      .filter((entry) => !servable(entry, videoId) || (entry.variant !== undefined && !allowed.has(entry.variant.uri)))
      .flatMap((entry) => entry.lines),
  );
  return lines.filter((_, index) => !dropped.has(index)).join("\n");
}

/**
 * A media playlist as it may be served: unchanged when every URI in it (segments, `EXT-X-MAP`,
 * keys) is the video's own, null otherwise (nothing of it is served).
 */
export function ownMediaPlaylist(playlist: string, videoId: string): string | null {
  let own = true;
  rewritePlaylistUris(playlist, (uri) => {
    own &&= ownUri(uri, videoId);
    return uri;
  });
  return own ? playlist : null;
}

/** The folder of a playlist URI, relative to the master: `720p/index.m3u8` -> `720p/`. */
function folderOf(uri: string): string {
  const slash = uri.lastIndexOf("/");
  return slash < 0 ? "" : uri.slice(0, slash + 1);
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
 * - `unknown`: a folder the master does not name, or names only in what is never served (refused
 *   too: nothing a player needs is there).
 *
 * @example
 * folderAccess(master, videoId, 480, "1080p/seg_00001.m4s"); // "above-plan"
 */
export function folderAccess(master: string, videoId: string, maxHeight: number, path: string): FolderAccess {
  const folder = folderOf(path);
  if (folder === "") return "open";
  const entries = masterEntries(master.split("\n"));
  const variants = servedVariants(entries, videoId);
  const open = new Set([
    ...allowedVariants(variants, maxHeight).map((variant) => folderOf(variant.uri)),
    ...entries.filter((entry) => entry.media && servable(entry, videoId)).flatMap((entry) => entry.uris.map(folderOf)),
  ]);
  if (open.has(folder)) return "open";
  return variants.some((variant) => folderOf(variant.uri) === folder) ? "above-plan" : "unknown";
}

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
 * get the token inserted.
 */
export function carryToken(playlist: string, videoId: string, token: string): string {
  const unsigned = `/media/${videoId}/`;
  return rewritePlaylistUris(playlist, (uri) =>
    uri.startsWith(unsigned) && !uri.startsWith(`${unsigned}${token}/`) ? `${unsigned}${token}/${uri.slice(unsigned.length)}` : uri,
  );
}
