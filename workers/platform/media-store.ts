import type { MediaEdge } from "./media-edge.ts";

/**
 * R2 as the services use it: the bucket for reads and writes, plus the few operations R2 has no
 * single call for, and the edge caches that copy its objects.
 */
export interface MediaStore {
  readonly bucket: R2Bucket;
  /** The caches media is delivered through (an HTTP request's store only). */
  readonly edge: MediaEdge;
  /** Deletes every object below `prefix`; answers how many there were. */
  deleteByPrefix(prefix: string): Promise<number>;
  /**
   * The Cache API entry (the data center's cache) that holds a copy of the R2 object `key`: one URL per
   * object on the public origin, whatever host the request came to and whoever asks, so every
   * viewer shares it and the delete route can name it. `conditions` are the client's `Range` and
   * validators, which the Cache API answers itself (206, 304, 416).
   */
  edgeCacheKey(key: string, conditions?: Headers): Request;
  /**
   * Drops the copies of `keys` at once: from this data center's Cache API cache (which purges only
   * where it runs: other locations keep theirs until their `max-age` ends), and every object of
   * their videos from Workers Cache, in every data center (a purge by the video's tag).
   */
  forgetEdgeCopies(keys: string[]): Promise<void>;
}

const CONDITION_HEADERS = ["Range", "If-None-Match", "If-Modified-Since"];

/** The video a media key belongs to (`videos/{id}/…`). */
function videoOf(key: string): string | undefined {
  const [root, videoId] = key.split("/");
  return root === "videos" ? videoId : undefined;
}

/**
 * @param options.edgeOrigin the public origin (`PUBLIC_BASE_URL`) the Cache API keys live on;
 * @param options.edge the request's edge caches. Durable Objects, which never touch the edge, leave both out.
 */
export function createMediaStore(bucket: R2Bucket, options: { edgeOrigin?: string; edge?: MediaEdge } = {}): MediaStore {
  const edge = () => {
    if (!options.edge) throw new Error("this media store has no edge (createMediaStore's edge)");
    return options.edge;
  };
  const edgeCacheKey = (key: string, conditions?: Headers) => {
    if (!options.edgeOrigin) throw new Error("this media store has no edge origin (createMediaStore's edgeOrigin)");
    const headers = new Headers();
    for (const name of CONDITION_HEADERS) {
      const value = conditions?.get(name);
      if (value) headers.set(name, value);
    }
    return new Request(new URL(`/media-cache/${key}`, options.edgeOrigin).toString(), { method: "GET", headers });
  };
  return {
    bucket,
    get edge() {
      return edge();
    },
    async deleteByPrefix(prefix) {
      let deleted = 0;
      // Listed afresh each round: the previous round's objects are gone, so no cursor is needed.
      for (;;) {
        const { objects } = await bucket.list({ prefix, limit: 1000 });
        if (objects.length === 0) return deleted;
        await bucket.delete(objects.map((object) => object.key));
        deleted += objects.length;
      }
    },
    edgeCacheKey,
    async forgetEdgeCopies(keys) {
      const dataCenter = await edge().dataCenterCache();
      const videoIds = [...new Set(keys.map(videoOf).filter((id) => id !== undefined))];
      await Promise.all([...keys.map((key) => dataCenter.delete(edgeCacheKey(key))), edge().forget(videoIds)]);
    },
  };
}
