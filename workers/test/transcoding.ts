import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq, inArray, sql } from "drizzle-orm";
import { expect } from "vitest";
import { type TranscodeTask as TaskRow, transcodeTasks } from "../../schema/index.ts";
import { testClock } from "../../testing/clock.ts";
import worker from "../index.ts";
import type { Clock } from "../platform/clock.ts";
import { createServices } from "../platform/services.ts";
import { handleQueueBatch, type QueueMessage } from "../queue.ts";
import type { AudioResult, ChunkResult, FinalizeResult, PlanResult, TaskEvent, TranscodeTask } from "../transcoding/contract.ts";
import { checkTranscodeLeases, type TranscodeTaskMessage } from "../transcoding/index.ts";
import { withDatabase } from "./catalog.ts";
import { call } from "./helpers.ts";

/**
 * The transcoder's side, played by a test: what the Worker dispatched (recorded by the transcoder
 * double, testing/transcoder-double.ts), and callbacks to the Worker's real route with each task's
 * own grant. The results are shaped as the transcoder makes them (contract.ts). Time is the
 * test's where it matters: a delivery or a cron run `at` a given instant runs with a clock that
 * says so.
 */

// This file's own part of the shared double (testing/transcoder-double.ts): test files run in
// parallel, and one's reset or busy instance must not show in another's dispatches.
const doubleScope = crypto.randomUUID();
const doubleUrls = (env as Env & { TEST_TRANSCODER_URLS: string }).TEST_TRANSCODER_URLS.split(",").map(
  (url) => `${url}/scope/${doubleScope}`,
);

/** A clock stopped at `ms` (milliseconds since the epoch). */
export function clockAt(ms: number): Clock {
  return { now: () => ms };
}

/**
 * The Worker under test, pointed at this file's two double instances, waiting 1 s for a free one,
 * cutting masters into 10 s chunks (the plans below are of a 20 s source).
 */
export function transcodingEnv(overrides: Partial<Record<string, string>> = {}): Env {
  return {
    ...env,
    TRANSCODER_URLS: doubleUrls.join(","),
    TRANSCODE_CAPACITY_WAIT_SECONDS: "1",
    TRANSCODE_CHUNK_SECONDS: "10",
    ...overrides,
  } as Env;
}

/** Forgets what this file's double instances were given, and their busy, hanging and refusing marks. */
export async function resetDouble(): Promise<void> {
  await fetch(`${doubleUrls[0]}/__double/reset`, { method: "POST" });
}

/**
 * Both instances free, as every transcoding test starts: what an earlier test left running (tasks
 * it never reported on) would hold them, as a busy fleet does. Only this file's instances: another
 * file's running tasks (and their storage grants, which die with their attempt) are left alone. A
 * file that dispatches runs it after each test too, so that what it left running never shows as
 * stalled to another file's cron (the lease check reads every task in the database).
 */
export async function freeTheDouble(): Promise<void> {
  await resetDouble();
  await withDatabase((db) =>
    db
      .update(transcodeTasks)
      .set({ state: "failed" })
      .where(and(eq(transcodeTasks.state, "running"), inArray(transcodeTasks.instance, doubleUrls))),
  );
}

export async function setDoubleBusy(instance: number, busy: boolean): Promise<void> {
  await fetch(`${doubleUrls[0]}/__double/busy`, { method: "POST", body: JSON.stringify({ instance, busy }) });
}

export async function setDoubleRefusing(instance: number, refuse: boolean): Promise<void> {
  await fetch(`${doubleUrls[0]}/__double/refuse`, { method: "POST", body: JSON.stringify({ instance, refuse }) });
}

export async function setDoubleHanging(instance: number, hang: boolean): Promise<void> {
  await fetch(`${doubleUrls[0]}/__double/hang`, { method: "POST", body: JSON.stringify({ instance, hang }) });
}

/** The tasks the double was given (POST /tasks), oldest first. */
export async function dispatched(jobId: string): Promise<(TranscodeTask & { instance: number; authorization?: string })[]> {
  const log = await (await fetch(`${doubleUrls[0]}/__double/log`)).json<
    { instance: number; method: string; body: TranscodeTask; authorization?: string }[]
  >();
  return log
    .filter((entry) => entry.method === "POST" && entry.body.jobId === jobId)
    .map((entry) => ({ ...entry.body, instance: entry.instance, authorization: entry.authorization }));
}

export async function cancelled(taskId: string): Promise<number> {
  const log = await (await fetch(`${doubleUrls[0]}/__double/log`)).json<{ method: string; path: string }[]>();
  return log.filter((entry) => entry.method === "DELETE" && entry.path === `/tasks/${taskId}`).length;
}

/** The last dispatch of a task (its current attempt). */
export async function lastDispatch(jobId: string, taskId: string): Promise<TranscodeTask & { instance: number; authorization?: string }> {
  const task = (await dispatched(jobId)).filter((entry) => entry.taskId === taskId).at(-1);
  expect(task, `${taskId} was not dispatched`).toBeDefined();
  return task as TranscodeTask & { instance: number };
}

/** Delivers one dispatch message to the consumer, as the queue would (`at` or `clock`: the consumer's clock). */
export async function deliver(
  message: TranscodeTaskMessage,
  options: { env?: Env; queue?: string; attempts?: number; at?: number; clock?: Clock } = {},
) {
  const batch = createMessageBatch<QueueMessage>(options.queue ?? "reelstream-transcode", [
    { id: crypto.randomUUID(), timestamp: new Date(), attempts: options.attempts ?? 1, body: message },
  ]);
  const ctx = createExecutionContext();
  await handleQueueBatch(batch, options.env ?? transcodingEnv(), ctx, {
    clock: options.clock ?? (options.at === undefined ? testClock : clockAt(options.at)),
  });
  return getQueueResult(batch, ctx);
}

/**
 * Runs the Worker's cron (the transcode lease check): through its `scheduled` handler, or, `at` a
 * given instant, the same check with services whose clock says it is then.
 */
export async function runCron(options: { env?: Env; at?: number } = {}): Promise<void> {
  const testEnv = options.env ?? transcodingEnv();
  const ctx = createExecutionContext();
  if (options.at === undefined) {
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), testEnv, ctx);
  } else {
    const services = await createServices(testEnv, ctx, { clock: clockAt(options.at), logFields: { cron: "test" } });
    try {
      await checkTranscodeLeases(services);
    } finally {
      await services.close();
    }
  }
  await waitOnExecutionContext(ctx);
}

/** A callback as the transcoder sends it: the task's grant as bearer, the task and attempt in the body. */
export function report(task: TranscodeTask, event: TaskEvent, testEnv: Env = transcodingEnv()): Promise<Response> {
  return call("/internal/transcode/callback", {
    method: "POST",
    token: task.storage.token,
    json: { jobId: task.jobId, videoId: task.videoId, taskId: task.taskId, kind: task.kind, attempt: task.attempt, event },
    env: testEnv,
  });
}

/** Delivers `taskId`'s dispatch message and answers the task as the transcoder was given it (its grants included). */
export async function dispatchedTask(
  job: { videoId: string; jobId: string },
  taskId: string,
  testEnv?: Env,
): Promise<TranscodeTask & { instance: number }> {
  await deliver(message(job.jobId, job.videoId, taskId), testEnv ? { env: testEnv } : {});
  return lastDispatch(job.jobId, taskId);
}

export async function taskRow(jobId: string, taskId: string): Promise<TaskRow | undefined> {
  const [row] = await withDatabase((db) =>
    db
      .select()
      .from(transcodeTasks)
      .where(and(eq(transcodeTasks.jobId, jobId), eq(transcodeTasks.id, taskId))),
  );
  return row;
}

export function message(jobId: string, videoId: string, taskId: string): TranscodeTaskMessage {
  return { kind: "transcode-task", jobId, videoId, taskId };
}

/**
 * Runs `work` while Postgres refuses to create `kind` tasks of job `jobId`: a trigger on
 * `transcode_tasks`, made for this job only and dropped after, raises on such an insert (a real
 * failure of the statement, as a constraint or a lost connection would be, not a stand-in).
 */
export async function withTaskInsertFault<T>(jobId: string, kind: TaskRow["kind"], work: () => Promise<T>): Promise<T> {
  const name = `test_fault_${crypto.randomUUID().replaceAll("-", "")}`;
  await withDatabase(async (db) => {
    await db.execute(
      sql.raw(
        `create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'injected fault: no % task for job %', new.kind, new.job_id; end $$`,
      ),
    );
    await db.execute(
      sql.raw(
        `create trigger ${name} before insert on transcode_tasks for each row when (new.job_id = '${jobId.replaceAll("'", "''")}' and new.kind = '${kind}') execute function ${name}()`,
      ),
    );
  });
  try {
    return await work();
  } finally {
    await withDatabase(async (db) => {
      await db.execute(sql.raw(`drop trigger ${name} on transcode_tasks`));
      await db.execute(sql.raw(`drop function ${name}()`));
    });
  }
}

// --- Results as the transcoder shapes them --------------------------------------------------

const rungs = [
  { name: "240p", width: 426, height: 240, shortSide: 240, bitrate: 245_000 },
  { name: "480p", width: 854, height: 480, shortSide: 480, bitrate: 984_000 },
];

/** A plan for a 20 s 30 fps source with audio, in `chunks` ranges. */
export function planResult(chunks: number): PlanResult {
  const seconds = 20;
  return {
    kind: "plan",
    encode: {
      durationSeconds: seconds,
      durationFromStream: true,
      originSeconds: 0,
      source: {
        container: "mov,mp4,m4a,3gp,3g2,mj2",
        durationSeconds: seconds,
        width: 854,
        height: 480,
        codedWidth: 854,
        codedHeight: 480,
        rotation: 0,
        fps: 30,
        frameRate: "30/1",
        videoCodec: "h264",
        audioCodec: "aac",
        bitrate: 2_000_000,
        videoBitrate: 1_900_000,
        hasAudio: true,
        interlaced: false,
        variableFrameRate: false,
      },
      video: { streamIndex: 0, timeBase: { num: 1, den: 15360 } },
      audio: { streamIndex: 1 },
      ladder: {
        renditions: rungs.map((rung) => ({
          name: rung.name,
          width: rung.width,
          height: rung.height,
          shortSide: rung.shortSide,
          frameRate: { num: 30, den: 1 },
          fps: 30,
          videoBitrate: rung.bitrate,
          maxBitrate: rung.bitrate * 1.5,
          bufferSize: rung.bitrate * 2,
          gopFrames: 120,
        })),
        deinterlace: false,
        audio: { type: "aac", bitrate: 128_000, channels: 2, sampleRate: 48_000 },
        segmentSeconds: 4,
      },
      poster: { atSeconds: 2, width: 854, height: 480 },
      storyboard: { intervalSeconds: 5, tileCount: 4, columns: 4, rows: 1, tileWidth: 160, tileHeight: 90 },
      interlace: null,
    },
    chunks: Array.from({ length: chunks }, (_, index) => ({
      index,
      startPts: index * 15360 * (seconds / chunks),
      startSeconds: index * (seconds / chunks),
      endPts: index === chunks - 1 ? null : (index + 1) * 15360 * (seconds / chunks),
      endSeconds: (index + 1) * (seconds / chunks),
    })),
  };
}

/** What a chunk task reports for `task`: two segments per rung, under the attempt's tag. */
export function chunkResult(task: TranscodeTask): ChunkResult {
  const index = task.kind === "chunk" ? task.chunk.index : 0;
  const prefix = task.outputPrefix;
  return {
    kind: "chunk",
    index,
    renditions: rungs.map((rung) => ({
      name: rung.name,
      codec: "avc1.64001e",
      initKey: index === 0 ? `${prefix}${rung.name}/${task.attemptTag}init.mp4` : null,
      initSha256: `sha-${rung.name}`,
      timescale: 15360,
      startTicks: index * 10 * 15360,
      frames: 300,
      segments: [0, 1].map((n) => ({ key: `${prefix}${rung.name}/${task.attemptTag}0000${n}.m4s`, ticks: 5 * 15360, bytes: 100_000 })),
    })),
    tiles: [{ index: index * 2, key: `${prefix}previews/${task.attemptTag}tile_0000${index * 2}.jpg` }],
    posterKey: index === 0 ? `${prefix}previews/${task.attemptTag}poster.jpg` : null,
    decode: { decodedSeconds: 10, errorCount: 0, errors: [], endedEarly: false },
    timing: null,
  };
}

export function audioResult(task: TranscodeTask): AudioResult {
  return {
    kind: "audio",
    codec: "mp4a.40.2",
    initKey: `${task.outputPrefix}audio/${task.attemptTag}init.mp4`,
    timescale: 48_000,
    segments: [0, 1, 2, 3, 4].map((n) => ({
      key: `${task.outputPrefix}audio/${task.attemptTag}0000${n}.m4s`,
      ticks: 4 * 48_000,
      bytes: 64_000,
    })),
  };
}

export function finalizeResult(task: TranscodeTask): FinalizeResult {
  const prefix = task.outputPrefix;
  const tag = task.attemptTag;
  return {
    kind: "finalize",
    renditions: rungs.map((rung) => ({
      name: rung.name,
      width: rung.width,
      height: rung.height,
      bitrate: rung.bitrate,
      peakBitrate: rung.bitrate * 1.2,
      frameRate: 30,
      codec: "avc1.64001e",
      playlist: `${prefix}${rung.name}/${tag}index.m3u8`,
    })),
    audio: { codec: "mp4a.40.2", bitrate: 128_000, playlist: `${prefix}audio/${tag}index.m3u8` },
    masterPlaylistKey: `${prefix}${tag}master.m3u8`,
    posterKey: `${prefix}${tag}poster.jpg`,
    storyboard: { spriteKey: `${prefix}${tag}storyboard.jpg`, vttKey: `${prefix}${tag}storyboard.vtt` },
    qualityReport: { ok: true, warnings: [], source: planResult(1).encode.source },
    durationSeconds: 20,
  };
}

/** The master a finalize task writes for `finalizeResult(task)`, under its tag, as the transcoder does. */
export function finalizeMaster(task: TranscodeTask): string {
  return [
    "#EXTM3U",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/${task.attemptTag}index.m3u8"`,
    ...rungs.flatMap((rung) => [
      `#EXT-X-STREAM-INF:BANDWIDTH=${rung.bitrate},RESOLUTION=${rung.width}x${rung.height},CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_audio"`,
      `${rung.name}/${task.attemptTag}index.m3u8`,
    ]),
    "",
  ].join("\n");
}

/** Stores what a finalize task writes before it reports (its master, or `master` instead) and returns its result. */
export async function finalizeDone(task: TranscodeTask, master = finalizeMaster(task)): Promise<FinalizeResult> {
  const result = finalizeResult(task);
  await env.MEDIA.put(result.masterPlaylistKey, master);
  return result;
}
