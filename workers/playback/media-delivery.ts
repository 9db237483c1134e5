import { type MediaEdge, mediaOriginRequest } from "../platform/media-edge.ts";
import type { MediaStore } from "../platform/media-store.ts";

/**
 * Media objects from R2 through an edge cache, once the token and the stream were checked: through
 * Workers Cache in front of the media origin (`workersCacheDelivery`, tiered across data centers),
 * or through the Cache API of the data center (`cacheApiDelivery`, the path before it). Either way
 * the cache keys carry no token, so every viewer of a segment shares one cache entry.
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
/** Originals of playlists and storyboards in the data center's cache: short, so a deleted video stops soon elsewhere. */
export const PLAYLIST_EDGE_TTL_SECONDS = 60;

/** What the media route needs of a delivery path; `MEDIA_EDGE_CACHE` picks one (see media.ts). */
export interface MediaDelivery {
  /** A small text object (a playlist, a storyboard track), for rewriting per viewer; null when it is not in R2. */
  readText(key: string, contentType: string): Promise<string | null>;
  /** An object as the viewer asked for it (Range, validators, HEAD); null when it is not in R2. */
  serveObject(request: Request, key: string, kind: MediaKind, contentType: string): Promise<Response | null>;
}

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
  headers.delete("Cf-Cache-Status");
  if (cached.status === 416) {
    void cached.body?.cancel();
    const size = Number(/\/(\d+)$/.exec(cached.headers.get("Content-Range") ?? "")?.[1]);
    return rangeNotSatisfiable(Number.isFinite(size) ? size : null, headers);
  }
  const answer = new Response(cached.body, { status: cached.status, headers });
  return request.method === "HEAD" ? withoutBody(answer) : answer;
}

/**
 * Serves an R2 object through the data center's cache (`caches.default`). Byte ranges, `If-None-Match` and
 * `If-Modified-Since` are evaluated by the platform, not here: by the Cache API's `match` (206,
 * 304, 416) and by R2's `get` with `onlyIf` (304).
 * - hit: the cached full object answers;
 * - miss without range: R2 streams it to the viewer and into the cache at once;
 * - miss with range: the full object goes into the cache first, then the cache answers the range
 *   (where there is no edge cache, as on workers.dev, R2 reads the range itself).
 * Answers null when the object is not in R2.
 */
async function serveThroughDataCenter(
  request: Request,
  media: MediaStore,
  key: string,
  kind: MediaKind,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<Response | null> {
  const { bucket } = media;
  const cache = await media.edge.dataCenterCache();
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

/** A small text object (a playlist or storyboard) through the data center's cache; null when it is not in R2. */
async function readThroughDataCenter(
  media: MediaStore,
  key: string,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<string | null> {
  const cache = await media.edge.dataCenterCache();
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

/**
 * The path before Workers Cache: R2 through the Cache API of the data center that runs the request
 * (`MEDIA_EDGE_CACHE=cache-api`). Every data center misses to R2 on its own.
 */
export function cacheApiDelivery(media: MediaStore, waitUntil: (promise: Promise<unknown>) => void): MediaDelivery {
  return {
    readText: (key, contentType) => readThroughDataCenter(media, key, contentType, waitUntil),
    serveObject: (request, key, kind, contentType) => serveThroughDataCenter(request, media, key, kind, contentType, waitUntil),
  };
}

/** What the cache in front of the origin said, as `X-Media-Cache` says it (a stale copy served is a hit too). */
function cacheStatusOf(response: Response): "HIT" | "MISS" {
  const status = response.headers.get("Cf-Cache-Status")?.toUpperCase() ?? "";
  return ["HIT", "STALE", "UPDATING", "REVALIDATED"].includes(status) ? "HIT" : "MISS";
}

/** The origin's answer, or null for 404; anything but an answer to the request is an error. */
async function fromOrigin(edge: MediaEdge, key: string, conditions?: Headers): Promise<Response | null> {
  const response = await edge.fetchFromOrigin(mediaOriginRequest(key, conditions));
  if (response.status === 404) {
    void response.body?.cancel();
    return null;
  }
  if (![200, 206, 304, 416].includes(response.status)) {
    void response.body?.cancel();
    throw new Error(`the media origin answered ${response.status} for ${key}`);
  }
  return response;
}

/**
 * R2 through Workers Cache in front of the media origin (`MEDIA_EDGE_CACHE=workers-cache`, the
 * default): a data center's miss asks the upper tier, which another data center may have filled;
 * only a miss of both runs the origin and reads R2. The cache answers ranges and validators from
 * the whole object it holds.
 */
export function workersCacheDelivery(edge: MediaEdge): MediaDelivery {
  return {
    async readText(key) {
      const response = await fromOrigin(edge, key);
      // Decoded here: playlists are UTF-8 (RFC 8216 §4.1) whatever their Content-Type says.
      return response && new TextDecoder().decode(await response.arrayBuffer());
    },
    async serveObject(request, key, _kind, contentType) {
      const response = await fromOrigin(edge, key, request.headers);
      if (!response) return null;
      const headers = new Headers(response.headers);
      headers.set("Content-Type", contentType);
      headers.delete("Cache-Tag");
      return fromCache(new Response(response.body, { status: response.status, headers }), request, cacheStatusOf(response));
    },
  };
}
