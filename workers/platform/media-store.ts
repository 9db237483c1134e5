/**
 * R2 as the services use it: the bucket for reads and writes, plus the few operations R2 has no
 * single call for.
 */
export interface MediaStore {
  readonly bucket: R2Bucket;
  /** Deletes every object below `prefix`; answers how many there were. */
  deleteByPrefix(prefix: string): Promise<number>;
}

export function createMediaStore(bucket: R2Bucket): MediaStore {
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
  };
}
