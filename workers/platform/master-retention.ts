import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";
import { DELETED_MASTERS_PREFIX, deletedMasterMarkerKey, masterKeyOfMarker, masterPrefix } from "./media-layout.ts";

/**
 * How long a deleted master is kept. Production's bucket lock on `masters/` (scripts/provision.ts)
 * refuses to delete a master younger than this, so the app never deletes one itself: it writes a
 * marker, and the cron deletes the master once the marker is this old. A master deleted by
 * mistake can be restored meanwhile (docs/resilience.md, "R2: masters under a bucket lock").
 * The marker starts the clock at the delete, which is never before the upload: by then the lock
 * (which counts from the upload) lets the delete through.
 */
export const MASTER_RETENTION_DAYS = 30;
export const MASTER_RETENTION_MS = MASTER_RETENTION_DAYS * 24 * 60 * 60 * 1000;

/** The marker's custom metadata: when the master was deleted, in ms since the epoch. */
const DELETED_AT = "deletedAt";

/**
 * Marks the master at `key` as deleted, `now`. Nothing is written for a master that is not there
 * (an upload that never became whole), and a marker already written keeps its time: a second
 * delete does not put the sweep off.
 */
export async function retireMaster(bucket: R2Bucket, key: string, clock: Clock): Promise<boolean> {
  const marker = deletedMasterMarkerKey(key);
  const [master, marked] = await Promise.all([bucket.head(key), bucket.head(marker)]);
  if (!master || marked) return false;
  await bucket.put(marker, "", { customMetadata: { [DELETED_AT]: String(clock.now()) } });
  return true;
}

/** Marks every master of a video as deleted (the title's delete); answers how many were marked. */
export async function retireVideoMasters(bucket: R2Bucket, videoId: string, clock: Clock): Promise<number> {
  let marked = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: masterPrefix(videoId), limit: 1000, cursor });
    for (const object of page.objects) if (await retireMaster(bucket, object.key, clock)) marked += 1;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return marked;
}

/**
 * The cron's sweep: deletes each master whose marker is `MASTER_RETENTION_MS` old, then its
 * marker (in that order: a delete the lock refuses leaves the marker for the next run). Markers
 * younger than that are left; a marker without a time (written by hand) counts from its upload.
 */
export async function sweepDeletedMasters(services: { media: { bucket: R2Bucket }; clock: Clock; log: Logger }): Promise<number> {
  const { bucket } = services.media;
  const cutoff = services.clock.now() - MASTER_RETENTION_MS;
  let swept = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: DELETED_MASTERS_PREFIX, limit: 1000, cursor, include: ["customMetadata"] });
    for (const marker of page.objects) {
      const deletedAt = Number(marker.customMetadata?.[DELETED_AT] ?? marker.uploaded.getTime());
      if (!(deletedAt <= cutoff)) continue;
      const master = masterKeyOfMarker(marker.key);
      try {
        await bucket.delete(master);
        await bucket.delete(marker.key);
      } catch (error) {
        // One refused delete (the lock, if it was made longer) does not stop the others.
        services.log.warn("deleted master not removed; the next run tries again", { master, error });
        continue;
      }
      services.log.info("deleted master removed after its retention", { master, deletedAt: new Date(deletedAt).toISOString() });
      swept += 1;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return swept;
}
