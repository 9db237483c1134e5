/**
 * R2 as the services use it: the bucket for reads and writes, plus the few operations R2 has no
 * single call for, and the edge cache entries that copy its objects.
 */
export interface MediaStore {
  readonly bucket: R2Bucket;
  /** Deletes every object below `prefix`; answers how many there were. */
  deleteByPrefix(prefix: string): Promise<number>;
  /**
   * The edge cache entry (`caches.default`) that holds a copy of the R2 object `key`: one URL per
   * object on the public origin, whatever host the request came to and whoever asks, so every
   * viewer shares it and the delete route can name it. `conditions` are the client's `Range` and
   * validators, which the Cache API answers itself (206, 304, 416).
   */
  edgeCacheKey(key: string, conditions?: Headers): Request;
  /**
   * Drops this data center's copies of `keys` at once. The Cache API purges only where it runs:
   * other locations keep theirs until their `max-age` ends.
   */
  forgetEdgeCopies(keys: string[]): Promise<void>;
}

const CONDITION_HEADERS = ["Range", "If-None-Match", "If-Modified-Since"];

/**
 * @param options.edgeOrigin the public origin (`PUBLIC_BASE_URL`) the edge cache keys live on;
 *   Durable Objects, which never touch the edge cache, leave it out.
 */
export function createMediaStore(bucket: R2Bucket, options: { edgeOrigin?: string } = {}): MediaStore {
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
      await Promise.all(keys.map((key) => caches.default.delete(edgeCacheKey(key))));
    },
  };
}
