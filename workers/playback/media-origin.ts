import { WorkerEntrypoint } from "cloudflare:workers";
import { mediaCacheTag, mediaObjectPath } from "../platform/media-edge.ts";
import { mediaPrefix } from "../platform/media-layout.ts";
import { IMMUTABLE, type MediaKind, mediaType } from "./media-delivery.ts";

/**
 * Playlists and storyboard tracks in the cache in front of this entrypoint: 30 s in each of its two
 * tiers, so a copy outlives its object by at most 60 s even where the lower tier counts its 30 s
 * from its own fill (a deleted video's master is purged at once anyway: `forget`).
 */
export const TEXT_EDGE_TTL_SECONDS = 30;

function cacheControlFor(kind: MediaKind): string {
  return kind === "segment" || kind === "image" ? IMMUTABLE : `public, max-age=${TEXT_EDGE_TTL_SECONDS}`;
}

function notFound(): Response {
  // Never stored: a video's first request may come before its master playlist is written.
  return new Response(null, { status: 404, headers: { "Cache-Control": "no-store" } });
}

/**
 * The media origin: R2's media objects (`videos/{id}/…`, nothing else of the bucket) as plain HTTP,
 * with no token and no check, for the one caller that has checked both: the media route
 * (`workers/playback/media.ts`), through `exports.MediaOrigin`. It is a named entrypoint, never
 * routed from the internet, and Workers Cache stands in front of it (wrangler.toml `[exports]`), a
 * tiered cache shared by every data center: a segment one data center filled is another's hit,
 * and a hit never runs this code nor reads R2.
 *
 * Every answer is one the cache may keep for every viewer: the whole object (`200`), its
 * `Cache-Control` (a year and `immutable` for segments and images, 30 s for text), `ETag`,
 * `Last-Modified`, and `Cache-Tag: video-{id}`, which `forget` purges everywhere when the video is
 * deleted. The cache strips `Range` before it calls here and slices the whole object itself
 * (Workers Cache stores no 206); with no cache in front, a `Range` is answered with the whole
 * object, which HTTP allows. `If-None-Match` and `If-Modified-Since` (the cache revalidating) get
 * 304 from R2.
 */
export class MediaOrigin extends WorkerEntrypoint<Env> {
  override async fetch(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
    return serveMediaOrigin(this.env.MEDIA, request);
  }

  /**
   * Purges every cached copy of the videos' objects, in every data center (Workers Cache's purge
   * by tag; a purge only reaches the entrypoint that calls it, hence an RPC method here). False
   * where there is no Workers Cache (miniflare) or when Cloudflare refused the purge (its rate
   * limit): their copies then end with their `max-age`, the master playlist's within 60 s.
   */
  async forget(videoIds: string[]): Promise<boolean> {
    const cache = this.ctx.cache;
    if (!cache || videoIds.length === 0) return false;
    const result = await cache.purge({ tags: videoIds.map(mediaCacheTag) });
    if (!result.success) console.error(JSON.stringify({ message: "media cache purge refused", videoIds, errors: result.errors }));
    return result.success;
  }
}

/** What `MediaOrigin.fetch` answers for `request` from `bucket`. */
export async function serveMediaOrigin(bucket: R2Bucket, request: Request): Promise<Response> {
  const key = mediaObjectPath(new URL(request.url));
  const videoId = key?.split("/")[1];
  const type = key ? mediaType(key) : null;
  if (!key || !videoId || !key.startsWith(mediaPrefix(videoId)) || !type) return notFound();
  const headers = new Headers({
    "Content-Type": type.contentType,
    "Cache-Control": cacheControlFor(type.kind),
    "Cache-Tag": mediaCacheTag(videoId),
    "Accept-Ranges": "bytes",
  });
  const object = await bucket.get(key, { onlyIf: request.headers });
  if (!object) return notFound();
  headers.set("ETag", object.httpEtag);
  headers.set("Last-Modified", object.uploaded.toUTCString());
  // A validator matched (the cache revalidating a copy): R2 answers the metadata without the body.
  if (!("body" in object)) return new Response(null, { status: 304, headers });
  headers.set("Content-Length", String(object.size));
  if (request.method === "HEAD") {
    void object.body.cancel();
    return new Response(null, { headers });
  }
  return new Response(object.body, { headers });
}
