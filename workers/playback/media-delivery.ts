import type { MediaStore } from "../platform/media-store.ts";

/**
 * Media objects from R2 through the edge cache (`caches.default`). Cache keys carry no token, so
 * every viewer of a segment shares one cache entry (`MediaStore.edgeCacheKey`); the token was
 * checked before we get here.
 */

export type MediaKind = "playlist" | "segment" | "image" | "text-track";

const types: Record<string, { contentType: string; kind: MediaKind }> = {
  m3u8: { contentType: "application/vnd.apple.mpegurl", kind: "playlist" },
  mp4: { contentType: "video/mp4", kind: "segment" },
  m4s: { contentType: "video/iso.segment", kind: "segment" },
  ts: { contentType: "video/mp2t", kind: "segment" },
  aac: { contentType: "audio/aac", kind: "segment" },
  jpg: { contentType: "image/jpeg", kind: "image" },
  jpeg: { contentType: "image/jpeg", kind: "image" },
  png: { contentType: "image/png", kind: "image" },
  webp: { contentType: "image/webp", kind: "image" },
  vtt: { contentType: "text/vtt; charset=utf-8", kind: "text-track" },
};

/** Content type and kind by extension; null for anything the media space does not serve. */
export function mediaType(key: string): { contentType: string; kind: MediaKind } | null {
  const extension = /\.([a-z0-9]+)$/i.exec(key)?.[1]?.toLowerCase();
  return (extension && types[extension]) || null;
}

/** Segments, init segments and images never change under their name: a year, immutable. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
/** Originals of playlists and storyboards in the edge cache: short, so a re-transcode shows soon. */
export const PLAYLIST_EDGE_TTL_SECONDS = 60;

function cacheControlFor(kind: MediaKind): string {
  return kind === "segment" || kind === "image" ? IMMUTABLE : `public, max-age=${PLAYLIST_EDGE_TTL_SECONDS}`;
}

interface ObjectHead {
  size: number;
  etag: string;
  contentType: string;
  cacheControl: string;
  lastModified: string;
}

function headersFor(head: ObjectHead, cacheStatus: "HIT" | "MISS"): Headers {
  return new Headers({
    "Content-Type": head.contentType,
    "Cache-Control": head.cacheControl,
    "Accept-Ranges": "bytes",
    "Content-Length": String(head.size),
    ETag: head.etag,
    "Last-Modified": head.lastModified,
    "X-Media-Cache": cacheStatus,
  });
}

function rangeNotSatisfiable(size: number | null, headers: Headers): Response {
  headers.set("Content-Range", `bytes */${size ?? "*"}`);
  headers.set("Content-Type", "application/problem+json");
  headers.delete("Content-Length");
  return new Response(
    JSON.stringify({
      type: "https://reelstream.dev/problems/range-not-satisfiable",
      title: "Range not satisfiable",
      status: 416,
      detail: `The object has ${size ?? "fewer"} bytes; ask for a range that starts before its end.`,
      code: "range-not-satisfiable",
    }),
    { status: 416, headers },
  );
}

/** The same answer without its body (HEAD), the body's stream released. */
function withoutBody(response: Response): Response {
  void response.body?.cancel();
  return new Response(null, { status: response.status, headers: response.headers });
}

/** A Cache API answer as this viewer gets it: labelled, without a body for HEAD, 416 as problem+json. */
function fromCache(cached: Response, request: Request, cacheStatus: "HIT" | "MISS"): Response {
  const headers = new Headers(cached.headers);
  headers.set("X-Media-Cache", cacheStatus);
  if (cached.status === 416) {
    void cached.body?.cancel();
    const size = Number(/\/(\d+)$/.exec(cached.headers.get("Content-Range") ?? "")?.[1]);
    return rangeNotSatisfiable(Number.isFinite(size) ? size : null, headers);
  }
  const answer = new Response(cached.body, { status: cached.status, headers });
  return request.method === "HEAD" ? withoutBody(answer) : answer;
}

/**
 * Serves an R2 object through the edge cache. Byte ranges, `If-None-Match` and
 * `If-Modified-Since` are evaluated by the platform, not here: by the Cache API's `match` (206,
 * 304, 416) and by R2's `get` with `onlyIf` (304).
 * - hit: the cached full object answers;
 * - miss without range: R2 streams it to the viewer and into the cache at once;
 * - miss with range: the full object goes into the cache first, then the cache answers the range
 *   (where there is no edge cache, as on workers.dev, R2 reads the range itself).
 * Answers null when the object is not in R2.
 */
export async function serveMediaObject(
  request: Request,
  media: MediaStore,
  key: string,
  kind: MediaKind,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<Response | null> {
  const { bucket } = media;
  const cache = caches.default;
  const hit = await cache.match(media.edgeCacheKey(key, request.headers));
  if (hit) return fromCache(hit, request, "HIT");

  const object = await bucket.get(key, { onlyIf: request.headers });
  if (!object) return null;
  const full: ObjectHead = {
    size: object.size,
    etag: object.httpEtag,
    contentType,
    cacheControl: cacheControlFor(kind),
    lastModified: object.uploaded.toUTCString(),
  };
  const headers = headersFor(full, "MISS");
  if (!("body" in object)) {
    // A validator matched: R2 answers the object's metadata without its body.
    headers.delete("Content-Length");
    return new Response(null, { status: 304, headers });
  }
  const fill = (body: ReadableStream) => {
    const stored = headersFor(full, "HIT");
    stored.delete("X-Media-Cache");
    return cache.put(media.edgeCacheKey(key), new Response(body, { headers: stored }));
  };
  if (request.headers.has("Range")) {
    await fill(object.body);
    const cached = await cache.match(media.edgeCacheKey(key, request.headers));
    if (cached) return fromCache(cached, request, "MISS");
    const part = await bucket.get(key, { range: request.headers });
    const range = part && "body" in part ? (part.range as { offset?: number; length?: number } | undefined) : undefined;
    if (!part || !("body" in part) || range?.offset === undefined || range.length === undefined) return null;
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${full.size}`);
    headers.set("Content-Length", String(range.length));
    return fromCache(new Response(part.body, { status: 206, headers }), request, "MISS");
  }
  if (request.method === "HEAD") {
    void object.body.cancel();
    return new Response(null, { status: 200, headers });
  }
  // The common miss: one R2 read that feeds the viewer and the cache together.
  const [toViewer, toCache] = object.body.tee();
  waitUntil(fill(toCache));
  return new Response(toViewer, { status: 200, headers });
}

/**
 * A small text object (a playlist or storyboard) through the edge cache, for rewriting per viewer.
 * Null when it is not in R2.
 */
export async function readMediaText(
  media: MediaStore,
  key: string,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<string | null> {
  const cache = caches.default;
  const cacheKey = media.edgeCacheKey(key);
  const hit = await cache.match(cacheKey);
  // Decoded here: playlists are UTF-8 (RFC 8216 §4.1) whatever their Content-Type says.
  if (hit) return new TextDecoder().decode(await hit.arrayBuffer());
  const object = await media.bucket.get(key);
  if (!object) return null;
  const text = await object.text();
  waitUntil(
    cache.put(
      cacheKey,
      new Response(text, {
        headers: { "Content-Type": contentType, "Cache-Control": `public, max-age=${PLAYLIST_EDGE_TTL_SECONDS}`, ETag: object.httpEtag },
      }),
    ),
  );
  return text;
}
