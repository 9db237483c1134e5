/**
 * Media objects from R2 through the edge cache (`caches.default`). Cache keys carry no token, so
 * every viewer of a segment shares one cache entry; the token was checked before we get here.
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

export type ByteRange = { start: number; end: number } | "unsatisfiable" | null;

/**
 * Parses a single `Range: bytes=…` against an object of `size` bytes (RFC 9110 §14.1.2): `a-b`,
 * open `a-`, suffix `-n`. Null means "send the whole object" (no header, multiple ranges, or a
 * header we do not understand, which a server may ignore).
 */
export function parseRange(header: string | null, size: number): ByteRange {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

interface ObjectHead {
  size: number;
  etag: string;
  contentType: string;
  cacheControl: string;
  lastModified: string | null;
}

function headOf(headers: Headers): ObjectHead {
  return {
    size: Number(headers.get("Content-Length") ?? 0),
    etag: headers.get("ETag") ?? "",
    contentType: headers.get("Content-Type") ?? "application/octet-stream",
    cacheControl: headers.get("Cache-Control") ?? IMMUTABLE,
    lastModified: headers.get("Last-Modified"),
  };
}

function baseHeaders(head: ObjectHead, cacheStatus: "HIT" | "MISS"): Headers {
  const headers = new Headers({
    "Content-Type": head.contentType,
    "Cache-Control": head.cacheControl,
    "Accept-Ranges": "bytes",
    "X-Media-Cache": cacheStatus,
  });
  if (head.etag) headers.set("ETag", head.etag);
  if (head.lastModified) headers.set("Last-Modified", head.lastModified);
  return headers;
}

function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch || !etag) return false;
  const bare = etag.replace(/^W\//, "");
  return ifNoneMatch.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag.replace(/^W\//, "") === bare;
  });
}

/** 304, 416, 206 or 200 for an object whose head we know; `body` yields the bytes of a range on demand. */
async function answer(
  request: Request,
  head: ObjectHead,
  cacheStatus: "HIT" | "MISS",
  body: (range: { start: number; end: number } | null) => Promise<ReadableStream | ArrayBuffer | null>,
): Promise<Response> {
  const headers = baseHeaders(head, cacheStatus);
  if (etagMatches(request.headers.get("If-None-Match"), head.etag)) {
    await body(null).then((stream) => (stream instanceof ReadableStream ? stream.cancel() : undefined));
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(request.headers.get("Range"), head.size);
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${head.size}`);
    headers.set("Content-Type", "application/problem+json");
    return new Response(
      JSON.stringify({
        type: "https://reelstream.dev/problems/range-not-satisfiable",
        title: "Range not satisfiable",
        status: 416,
        detail: `The object has ${head.size} bytes; ask for a range that starts before byte ${head.size}.`,
        code: "range-not-satisfiable",
      }),
      { status: 416, headers },
    );
  }
  const head_ = request.method === "HEAD";
  if (range) {
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${head.size}`);
    headers.set("Content-Length", String(range.end - range.start + 1));
    return new Response(head_ ? null : await body(range), { status: 206, headers });
  }
  headers.set("Content-Length", String(head.size));
  return new Response(head_ ? null : await body(null), { status: 200, headers });
}

function cacheKeyFor(requestUrl: string, key: string): Request {
  // Same host as the media request (a cache entry belongs to the zone), no token, no query.
  return new Request(new URL(`/media-cache/${key}`, requestUrl).toString(), { method: "GET" });
}

/**
 * Serves an R2 object with ETag, conditional requests, byte ranges and HEAD, through the edge cache.
 * - hit: the cached full object answers, sliced for a range;
 * - miss without range: R2 streams it to the viewer and into the cache at once;
 * - miss with range: R2 reads only the range, and the full object is cached in the background.
 * Answers null when the object is not in R2.
 */
export async function serveMediaObject(
  request: Request,
  bucket: R2Bucket,
  key: string,
  kind: MediaKind,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<Response | null> {
  const cache = caches.default;
  const cacheKey = cacheKeyFor(request.url, key);
  const hit = await cache.match(cacheKey);
  if (hit?.body) {
    const head = headOf(hit.headers);
    const body = hit.body;
    return answer(request, head, "HIT", async (range) => {
      if (!range) return body;
      const bytes = await new Response(body).arrayBuffer();
      return bytes.slice(range.start, range.end + 1);
    });
  }

  const fill = (head: ObjectHead, stream: ReadableStream) => {
    const headers = baseHeaders(head, "HIT");
    headers.set("Content-Length", String(head.size));
    headers.delete("X-Media-Cache");
    return cache.put(cacheKey, new Response(stream, { headers }));
  };
  const headFromR2 = (object: R2Object): ObjectHead => ({
    size: object.size,
    etag: object.httpEtag,
    contentType,
    cacheControl: cacheControlFor(kind),
    lastModified: object.uploaded.toUTCString(),
  });

  if (request.method === "GET" && !request.headers.has("Range")) {
    // The common miss: one R2 read that feeds the viewer and the cache together.
    const full = await bucket.get(key);
    if (!full) return null;
    const head = headFromR2(full);
    const [toViewer, toCache] = full.body.tee();
    waitUntil(fill(head, toCache));
    return answer(request, head, "MISS", async (range) => (range ? null : toViewer));
  }

  const object = await bucket.head(key);
  if (!object) return null;
  const head = headFromR2(object);
  return answer(request, head, "MISS", async (range) => {
    if (!range) return null; // HEAD, or a 304
    const part = await bucket.get(key, { range: { offset: range.start, length: range.end - range.start + 1 } });
    waitUntil(bucket.get(key).then((full) => (full ? fill(head, full.body) : undefined)));
    return part && "body" in part ? part.body : null;
  });
}

/**
 * A small text object (a playlist or storyboard) through the edge cache, for rewriting per viewer.
 * Null when it is not in R2.
 */
export async function readMediaText(
  requestUrl: string,
  bucket: R2Bucket,
  key: string,
  contentType: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<string | null> {
  const cache = caches.default;
  const cacheKey = cacheKeyFor(requestUrl, key);
  const hit = await cache.match(cacheKey);
  // Decoded here: playlists are UTF-8 (RFC 8216 §4.1) whatever their Content-Type says.
  if (hit) return new TextDecoder().decode(await hit.arrayBuffer());
  const object = await bucket.get(key);
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
