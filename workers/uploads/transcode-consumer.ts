import { and, eq, lt, or, sql } from "drizzle-orm";
import { type Rendition, type Video, videos } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import type { Logger } from "../platform/logger.ts";
import type { Services } from "../platform/services.ts";
import { markVideoReady, syncCatalogCache } from "../videos/index.ts";
import type { TranscodeJobMessage } from "./service.ts";
import { mediaPrefix, outputPrefix, STORAGE_GRANT_TTL_SECONDS } from "./settings.ts";
import { signStorageGrant } from "./storage-grant.ts";
import { dispatchTranscode, type TranscodeResult, TranscoderStreamError, transcoderFor } from "./transcoder-client.ts";

/**
 * A `transcoding` video whose row has not been touched for this long has lost its consumer (the
 * consumer heartbeats every HEARTBEAT_MS while a job runs): another delivery may take it over.
 */
export const TRANSCODE_LEASE_SECONDS = 120;
const HEARTBEAT_MS = 30_000;
/** A transcoder that sends no line for this long is treated as dead (it reports progress often). */
const IDLE_TIMEOUT_MS = 5 * 60_000;
/** Progress is written at most this often, or when it moved by PROGRESS_STEP. */
const PROGRESS_INTERVAL_MS = 2000;
const PROGRESS_STEP = 0.05;
/** The share of the whole job each stage of the transcoder stands for. */
const stageSpans: Record<string, [number, number]> = { checking: [0, 0.1], transcoding: [0.1, 0.9], uploading: [0.9, 1] };

type Claim = { claimed: true } | { claimed: false; why: "gone" | "finished" | "busy" | "not-queued"; state?: string };

/**
 * Takes the job: `queued` (or `transcoding` whose consumer stopped heartbeating) becomes
 * `transcoding`, in one conditional UPDATE, so concurrent deliveries of one job cannot both run.
 */
export async function claimTranscode(db: Database, videoId: string): Promise<Claim> {
  const [row] = await db
    .update(videos)
    .set({ state: "transcoding", progress: 0, updatedAt: sql`now()` })
    .where(
      and(
        eq(videos.id, videoId),
        or(
          eq(videos.state, "queued"),
          and(eq(videos.state, "transcoding"), lt(videos.updatedAt, sql`now() - make_interval(secs => ${TRANSCODE_LEASE_SECONDS})`)),
        ),
      ),
    )
    .returning({ id: videos.id });
  if (row) return { claimed: true };
  const [current] = await db.select({ state: videos.state }).from(videos).where(eq(videos.id, videoId));
  if (!current) return { claimed: false, why: "gone" };
  if (current.state === "ready" || current.state === "failed") return { claimed: false, why: "finished", state: current.state };
  if (current.state === "transcoding") return { claimed: false, why: "busy", state: current.state };
  return { claimed: false, why: "not-queued", state: current.state };
}

/** Seconds before the next attempt: 15 s, 30 s, 60 s, … capped at 10 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 15 * 2 ** Math.max(0, attempts - 1));
}

const RETRY_NOTE = /^attempt (\d+) failed: (.*); retrying$/s;

/**
 * One delivery of a transcode job. At-least-once: a job whose video is already `ready` or
 * `failed` is acknowledged without work; a duplicate delivered while another consumer runs the
 * job is acknowledged (that consumer owns the outcome, and its own message is retried if it
 * dies); a transcoder that is busy, unreachable, killed or silent leaves the job for a retry.
 */
export async function handleTranscodeMessage(message: Message<TranscodeJobMessage>, services: Services): Promise<void> {
  const job = message.body;
  const log = services.log.child({ jobId: job.jobId, videoId: job.videoId });
  const { config, db } = services;
  const transcoder = transcoderFor(services, job.videoId);
  if (!transcoder) {
    log.error("no transcoder configured (set TRANSCODER_URL, or deploy with the TRANSCODER container); job left for a retry");
    message.retry({ delaySeconds: 300 });
    return;
  }
  try {
    const claim = await claimTranscode(db, job.videoId);
    if (!claim.claimed) {
      log.info(`transcode job not run: ${claim.why}`, { state: claim.state, attempts: message.attempts });
      message.ack();
      return;
    }
    log.info("transcode started", { attempts: message.attempts });

    const abort = new AbortController();
    const progress = progressWriter(db, job.videoId, log);
    const heartbeat = setInterval(() => void progress.touch(), HEARTBEAT_MS);
    let outcome:
      | { kind: "done"; result: TranscodeResult }
      | { kind: "failed"; reason: string; qualityReport?: Record<string, unknown> | null }
      | { kind: "retry"; reason: string; delaySeconds: number };
    try {
      const token = await signStorageGrant(config.INTERNAL_SIGNING_SECRET, {
        job: job.jobId,
        read: [job.sourceKey],
        prefix: outputPrefix(job.videoId),
        exp: Math.floor(services.clock.now() / 1000) + STORAGE_GRANT_TTL_SECONDS,
      });
      const dispatch = await dispatchTranscode(
        transcoder,
        {
          jobId: job.jobId,
          videoId: job.videoId,
          sourceKey: job.sourceKey,
          outputPrefix: outputPrefix(job.videoId),
          storage: { baseUrl: config.PUBLIC_BASE_URL.replace(/\/+$/, ""), token },
        },
        { idleTimeoutMs: IDLE_TIMEOUT_MS, signal: abort.signal, log },
      );
      if (dispatch.kind === "busy") {
        outcome = { kind: "retry", reason: "the transcoder was busy", delaySeconds: dispatch.retryAfterSeconds };
      } else if (dispatch.kind === "unavailable") {
        outcome = { kind: "retry", reason: dispatch.reason, delaySeconds: retryDelaySeconds(message.attempts) };
      } else {
        outcome = {
          kind: "retry",
          reason: "the transcoder ended its stream without a result",
          delaySeconds: retryDelaySeconds(message.attempts),
        };
        try {
          for await (const event of dispatch.events) {
            if (event.type === "progress") {
              await progress.report(event.stage, event.percent);
            } else if (event.type === "done") {
              outcome = { kind: "done", result: event.result };
              break;
            } else if (event.retryable) {
              outcome = { kind: "retry", reason: event.reason, delaySeconds: retryDelaySeconds(message.attempts) };
              break;
            } else {
              outcome = { kind: "failed", reason: event.reason, qualityReport: event.qualityReport };
              break;
            }
          }
        } catch (error) {
          const reason =
            error instanceof TranscoderStreamError ? error.message : `reading the transcoder's stream failed (${String(error)})`;
          outcome = { kind: "retry", reason, delaySeconds: retryDelaySeconds(message.attempts) };
        }
      }
    } finally {
      clearInterval(heartbeat);
      abort.abort();
    }

    if (outcome.kind === "done") {
      const row = await publishTranscode(db, job.videoId, outcome.result);
      if (row) await syncCatalogCache(services, { id: job.videoId, wasListed: false, now: row });
      log.info(row ? "transcode done, video ready" : "transcode done but the video changed meanwhile");
      message.ack();
    } else if (outcome.kind === "failed") {
      await db
        .update(videos)
        .set({
          state: "failed",
          progress: null,
          error: outcome.reason,
          qualityReport: outcome.qualityReport ?? null,
          updatedAt: sql`now()`,
        })
        .where(and(eq(videos.id, job.videoId), eq(videos.state, "transcoding")));
      log.warn("transcode refused the source", { reason: outcome.reason });
      message.ack();
    } else {
      // Give the job back: the next delivery claims `queued` at once instead of waiting out the lease.
      await db
        .update(videos)
        .set({ state: "queued", error: `attempt ${message.attempts} failed: ${outcome.reason}; retrying`, updatedAt: sql`now()` })
        .where(and(eq(videos.id, job.videoId), eq(videos.state, "transcoding")));
      log.warn("transcode attempt failed; retrying", {
        reason: outcome.reason,
        delaySeconds: outcome.delaySeconds,
        attempts: message.attempts,
      });
      message.retry({ delaySeconds: outcome.delaySeconds });
    }
  } catch (error) {
    log.error("transcode job errored; retrying", { error });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/**
 * A job that used up its retries (the dead-letter queue): the video is `failed` with the last
 * reason, and whatever the attempts left under its output prefix is deleted (a SIGKILLed
 * transcoder cannot clean up after itself; a retry would have replaced it, but none is coming).
 * A video that another delivery is still transcoding (fresh heartbeat), or that is ready, is
 * left alone.
 */
export async function handleDeadTranscodeMessage(message: Message<TranscodeJobMessage>, services: Services): Promise<void> {
  const job = message.body;
  const log = services.log.child({ jobId: job.jobId, videoId: job.videoId });
  const { db } = services;
  try {
    const [row] = await db.select({ state: videos.state, error: videos.error }).from(videos).where(eq(videos.id, job.videoId));
    const note = row?.error ? RETRY_NOTE.exec(row.error) : null;
    const reason = note
      ? `transcoding failed after ${note[1]} attempts: ${note[2]}`
      : "transcoding failed after every retry: the transcoder never finished the job";
    const [failed] = await db
      .update(videos)
      .set({ state: "failed", progress: null, error: reason, updatedAt: sql`now()` })
      .where(
        and(
          eq(videos.id, job.videoId),
          or(
            eq(videos.state, "queued"),
            and(eq(videos.state, "transcoding"), lt(videos.updatedAt, sql`now() - make_interval(secs => ${TRANSCODE_LEASE_SECONDS})`)),
          ),
        ),
      )
      .returning({ id: videos.id });
    if (failed) await services.media.deleteByPrefix(outputPrefix(job.videoId));
    const fields = { reason, state: row?.state ?? "deleted" };
    if (failed) log.error("transcode job dead-lettered; video failed", fields);
    else log.info("dead-lettered job ignored", fields);
    message.ack();
  } catch (error) {
    log.error("dead-letter handling errored; retrying", { error });
    message.retry({ delaySeconds: 60 });
  }
}

/** Throttled progress: at most every PROGRESS_INTERVAL_MS, or at once after a PROGRESS_STEP jump. */
function progressWriter(db: Database, videoId: string, log: Logger) {
  let last = 0;
  let lastWrite = Date.now();
  const write = (value: number) =>
    db
      .update(videos)
      .set({ progress: value, updatedAt: sql`now()` })
      .where(and(eq(videos.id, videoId), eq(videos.state, "transcoding")))
      .catch((error) => log.warn("progress not recorded", { error }));
  return {
    async report(stage: string, percent: number) {
      const [from, to] = stageSpans[stage] ?? [0, 1];
      const value = Math.round((from + ((to - from) * Math.min(100, Math.max(0, percent))) / 100) * 1000) / 1000;
      const now = Date.now();
      if (value > last && (now - lastWrite >= PROGRESS_INTERVAL_MS || value - last >= PROGRESS_STEP)) {
        last = value;
        lastWrite = now;
        await write(value);
      }
    },
    /** The heartbeat: keeps the lease (updatedAt) fresh while the transcoder works quietly. */
    async touch() {
      lastWrite = Date.now();
      await write(last);
    },
  };
}

/** Key of an object below the video's media prefix, as the catalog stores it (`hls/poster.jpg`). */
function mediaPath(videoId: string, key: string): string {
  const prefix = outputPrefix(videoId);
  if (!key.startsWith(prefix)) throw new Error(`the transcoder wrote '${key}', outside ${prefix}`);
  return key.slice(mediaPrefix(videoId).length);
}

/** `transcoding` becomes `ready` with everything the transcoder made; undefined when the video changed meanwhile. */
export function publishTranscode(db: Database, videoId: string, result: TranscodeResult): Promise<Video | undefined> {
  const renditions: Rendition[] = result.renditions.map((rendition) => ({
    ...rendition,
    playlist: mediaPath(videoId, rendition.playlist),
  }));
  return markVideoReady(
    db,
    videoId,
    {
      durationSeconds: result.durationSeconds,
      renditions,
      posterKey: result.posterKey ? mediaPath(videoId, result.posterKey) : null,
      storyboardKey: result.storyboard ? mediaPath(videoId, result.storyboard.vttKey) : null,
      qualityReport: result.qualityReport ?? null,
    },
    { onlyFrom: ["transcoding"] },
  );
}
