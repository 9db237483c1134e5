import { hlsPrefix, masterPlaylistKey } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { masterProblems } from "../playback/index.ts";
import { audioResultSchema, chunkResultSchema, type FinalizeResult } from "./contract.ts";
import { attemptTag } from "./keys.ts";
import { keptAfterPublishing } from "./ladder-keys.ts";
import { type TaskAttempt, type TranscodeJob, taskResults } from "./service.ts";
import { isTaggedBelow } from "./storage-grant.ts";

/**
 * Publishing a ladder is the Worker's, not the transcoder's: no grant writes `master.m3u8`, the
 * name viewers are served (storage-grant.ts). The finalize task writes its master under its own
 * tag (`finalize-a1-master.m3u8`); before the video becomes `ready`, the Worker reads it, refuses
 * one that leads anywhere but this video's own renditions or has a variant without a height
 * (`masterProblems`, the rules playback serves by), and copies it to `master.m3u8`. Once the video
 * is ready, every grant of the job is dead (internal-storage.ts), and what the published ladder
 * does not reference (storyboard tiles, a dead attempt's segments, the tagged master) is deleted.
 */

const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";

/**
 * Checks the finalize result of `attempt` and puts its master where viewers are served it.
 * Returns why it cannot be published, in words (the job fails with it), or null when it is.
 */
export async function publishMaster(
  services: Services,
  job: TranscodeJob,
  attempt: TaskAttempt,
  result: FinalizeResult,
): Promise<string | null> {
  const prefix = hlsPrefix(job.videoId);
  const tag = attemptTag(attempt.id, attempt.attempt);
  const written = [
    result.masterPlaylistKey,
    ...result.renditions.map((rendition) => rendition.playlist),
    ...(result.audio ? [result.audio.playlist] : []),
    result.posterKey,
    result.storyboard.spriteKey,
    result.storyboard.vttKey,
  ];
  const foreign = written.filter((key) => !isTaggedBelow(prefix, tag, key));
  if (foreign.length > 0) return `the finalize step reported files it did not write (${foreign.slice(0, 3).join(", ")})`;
  const object = await services.media.bucket.get(result.masterPlaylistKey);
  if (!object) return "the finalize step reported a master playlist that is not in storage";
  const master = await object.text();
  const problems = masterProblems(master, job.videoId);
  if (problems.length > 0) return `the master playlist cannot be published: ${problems.slice(0, 3).join("; ")}`;
  await services.media.bucket.put(masterPlaylistKey(job.videoId), master, { httpMetadata: { contentType: PLAYLIST_TYPE } });
  return null;
}

/** Once the video is ready: deletes what its published ladder does not reference; returns how many. */
export async function sweepUnpublished(services: Services, job: TranscodeJob, result: FinalizeResult): Promise<number> {
  const rows = await taskResults(services.db, job.id, ["chunk", "audio"]);
  const chunks = rows.filter((row) => row.kind === "chunk" && row.result).map((row) => chunkResultSchema.parse(row.result));
  const audioRow = rows.find((row) => row.kind === "audio" && row.result);
  const audio = audioRow ? audioResultSchema.parse(audioRow.result) : null;
  const keep = keptAfterPublishing(job.videoId, result, chunks, audio);
  const orphans: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await services.media.bucket.list({ prefix: hlsPrefix(job.videoId), limit: 1000, ...(cursor ? { cursor } : {}) });
    orphans.push(...page.objects.map((object) => object.key).filter((key) => !keep.has(key)));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  for (let start = 0; start < orphans.length; start += 1000) await services.media.bucket.delete(orphans.slice(start, start + 1000));
  return orphans.length;
}
