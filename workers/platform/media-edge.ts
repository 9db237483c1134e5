import { exports } from "cloudflare:workers";
import { simulateWorkersCache } from "./workers-cache-simulation.ts";

/**
 * The two caches media can come through on its way from R2 (docs/playback.md "Delivery"):
 * - **Workers Cache** in front of the `MediaOrigin` entrypoint (wrangler.toml `[exports]`): tiered, so
 *   one data center's miss is served by an upper tier another data center filled, not by R2;
 *   purged by tag everywhere at once. `MEDIA_EDGE_CACHE=workers-cache`, the default.
 * - **The Cache API** (`caches.default`): the cache of the data center that runs the request, no
 *   tiers, purged only where the purge runs. `MEDIA_EDGE_CACHE=cache-api`, the path before Workers
 *   Cache, kept as a fallback and for the benchmark's comparison.
 *
 * miniflare has neither Workers Cache nor data centers: in development and tests the origin is
 * called through a simulation of Workers Cache built on miniflare's Cache API, and each data center
 * (the request's `cf.colo`) gets Cache API caches of its own (`simulateWorkersCache` says how far
 * the simulation goes).
 */
export interface MediaEdge {
  /** The Cache API cache of the data center that runs the request. */
  dataCenterCache(): Promise<Cache>;
  /** Asks the media origin through Workers Cache (a `mediaOriginRequest`). */
  fetchFromOrigin(request: Request): Promise<Response>;
  /** Purges the videos' objects from Workers Cache in every data center; false where that did not happen. */
  forget(videoIds: string[]): Promise<boolean>;
}

/** The one tag of every cached object of a video (`Cache-Tag`), purged when the video is deleted. */
export function mediaCacheTag(videoId: string): string {
  return `video-${videoId}`;
}

/**
 * The origin's URLs: the path is the R2 key. The host is a placeholder: a call through `exports`
 * is routed by the binding, and Workers Cache keys on the path alone.
 */
const ORIGIN_BASE = "https://media-origin.invalid/";

/** The request for R2 object `key` from the media origin, carrying `conditions` (Range, validators). */
export function mediaOriginRequest(key: string, conditions?: Headers): Request {
  const headers = new Headers();
  for (const name of ["Range", "If-None-Match", "If-Modified-Since"]) {
    const value = conditions?.get(name);
    if (value) headers.set(name, value);
  }
  // Nothing else of the viewer's request: no Authorization or Cookie (which make the cache bypass), no token.
  return new Request(new URL(key.split("/").map(encodeURIComponent).join("/"), ORIGIN_BASE), { method: "GET", headers });
}

/** The R2 key a media origin URL names, or null for a path with an empty, `.` or `..` segment. */
export function mediaObjectPath(url: URL): string | null {
  const segments = url.pathname.split("/").slice(1);
  try {
    const decoded = segments.map((segment) => decodeURIComponent(segment));
    if (decoded.some((segment) => segment === "" || segment === "." || segment === ".." || segment.includes("/"))) return null;
    return decoded.join("/");
  } catch {
    return null;
  }
}

export interface MediaEdgeOptions {
  /** Development and tests: miniflare, where Workers Cache and data centers are simulated. */
  simulated: boolean;
  /** The data center running the request (`request.cf.colo`), which names its caches in the simulation. */
  dataCenter?: string;
}

/** The media edge of one request. */
export function createMediaEdge(options: MediaEdgeOptions): MediaEdge {
  // Read when used: this module is loaded where the entrypoint may not be exported (a Durable Object's tests).
  const origin = () => exports.MediaOrigin;
  if (!options.simulated) {
    return {
      dataCenterCache: async () => caches.default,
      fetchFromOrigin: (request) => origin().fetch(request),
      forget: (videoIds) => origin().forget(videoIds),
    };
  }
  const dataCenter = options.dataCenter ?? "local";
  const cache = simulateWorkersCache((request) => origin().fetch(request), { dataCenter });
  return {
    dataCenterCache: () => caches.open(`data-center:${dataCenter}`),
    fetchFromOrigin: (request) => cache.fetch(request),
    forget: async (videoIds) => {
      await cache.purge(videoIds.map(mediaCacheTag));
      return true;
    },
  };
}
