import { mkdir, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CONTAINER_ROLLOUT_GRACE_SECONDS,
  type TaskAccepted,
  type TaskEvent,
  type TranscoderBusy,
  type TranscodeTask,
} from "../../workers/transcoding/contract.ts";
import { originProblems, parseOrigins, restrictEgress } from "./egress.ts";
import { type X264Preset, x264Presets } from "./ffmpeg-command.ts";
import { type FfmpegTools, resolveFfmpegTools } from "./ffmpeg-tools.ts";
import { HttpStorage } from "./http-storage.ts";
import { toJobFailure } from "./job-failure.ts";
import { type RangeProxy, startRangeProxy } from "./range-proxy.ts";
import { formatBytes } from "./scratch.ts";
import { TaskReporter } from "./task-reporter.ts";
import { parseTaskRequest } from "./task-request.ts";
import { runTask } from "./tasks.ts";

/**
 * The transcoder's HTTP entry, the same in a Cloudflare Container and as a local Node process.
 * One piece of work at a time (an instance has the cores for one ffmpeg ladder):
 *
 * - `GET /healthz`: 200 `{ status: "ok", busy, running, scratchQuotaBytes }`
 * - `POST /tasks` with a `TranscodeTask` (workers/transcoding/contract.ts): 202 `TaskAccepted` at
 *   once; progress and the result go to the task's `callbackUrl`. The same attempt posted again
 *   while it runs is 202 `already-running`; anything else meanwhile is 429 `TranscoderBusy` with
 *   Retry-After, so the Worker tries another instance or waits.
 * - `DELETE /tasks/{taskId}`: cancels that task if it runs here (204), else 404.
 * - With `TRANSCODER_STORAGE_ORIGINS` set, a task whose storage or callback URL is another origin
 *   is refused with 403, and no request of the process leaves for any other (egress.ts).
 *
 * On SIGTERM (a rollout) it drains: `POST /tasks` answers 503 (the Worker tries another instance),
 * the running task goes on to its result, and the process exits once that is delivered. A task
 * that cannot finish within the platform's grace before SIGKILL (`TRANSCODER_GRACE_SECONDS`,
 * Cloudflare's 15 minutes) is stopped when only its hand-back reserve is left, and handed back
 * (a `handed-back` callback): the Worker queues it for another instance at once and counts no
 * failure against it.
 */

export interface ServerConfig {
  port: number;
  host: string;
  /** Task temp folders live here; whatever a killed predecessor left is removed at start. */
  workRoot: string;
  tools: FfmpegTools;
  preset: X264Preset;
  stallTimeoutMs: number;
  /** When set, every request but the health check needs `Authorization: Bearer {token}`. */
  token: string | null;
  /** A progress callback is repeated this often even without news, so the lease sees a live task. */
  heartbeatMs: number;
  /** Task progress callbacks go at most this often. */
  progressIntervalMs: number;
  /** How long a task's result callback is retried before the transcoder gives up on it. */
  callbackGiveUpMs: number;
  /** This instance's scratch disk, which every task is held to; null: not limited. */
  scratchQuotaBytes: number | null;
  retryAfterSeconds: number;
  /** The platform's grace between SIGTERM and SIGKILL: the running task finishes within it or is handed back. */
  graceMs: number;
  /**
   * The only origins this process may reach (`TRANSCODER_STORAGE_ORIGINS`: the Worker's storage
   * and callback routes), or null: not restricted here (egress.ts).
   */
  storageOrigins: string[] | null;
  log: (line: string) => void;
}

/** Reads configuration from the environment (see the README for each variable). */
export function readServerConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const preset = env.TRANSCODER_PRESET ?? "veryfast";
  if (!(x264Presets as readonly string[]).includes(preset)) throw new Error(`TRANSCODER_PRESET must be one of ${x264Presets.join(", ")}`);
  return {
    port: positiveInteger(env.PORT, 8788, "PORT", true),
    host: env.HOST ?? "127.0.0.1",
    workRoot: resolve(env.TRANSCODER_WORK_DIR ?? join(tmpdir(), "reelstream-transcoder")),
    tools: resolveFfmpegTools(env),
    preset: preset as X264Preset,
    stallTimeoutMs: positiveInteger(env.TRANSCODER_STALL_SECONDS, 120, "TRANSCODER_STALL_SECONDS") * 1000,
    token: env.TRANSCODER_TOKEN || null,
    heartbeatMs: positiveNumber(env.TRANSCODER_HEARTBEAT_SECONDS, 10, "TRANSCODER_HEARTBEAT_SECONDS") * 1000,
    progressIntervalMs: positiveNumber(env.TRANSCODER_PROGRESS_SECONDS, 5, "TRANSCODER_PROGRESS_SECONDS") * 1000,
    callbackGiveUpMs: positiveNumber(env.TRANSCODER_CALLBACK_GIVE_UP_SECONDS, 600, "TRANSCODER_CALLBACK_GIVE_UP_SECONDS") * 1000,
    scratchQuotaBytes: byteSize(env.TRANSCODER_SCRATCH_BYTES, "TRANSCODER_SCRATCH_BYTES"),
    retryAfterSeconds: 30,
    graceMs: positiveNumber(env.TRANSCODER_GRACE_SECONDS, CONTAINER_ROLLOUT_GRACE_SECONDS, "TRANSCODER_GRACE_SECONDS") * 1000,
    storageOrigins: env.TRANSCODER_STORAGE_ORIGINS ? parseOrigins(env.TRANSCODER_STORAGE_ORIGINS) : null,
    log: (line) => console.log(line),
  };
}

export interface TranscoderServer {
  server: Server;
  port: number;
  /** Stops listening, cancels the running task and waits until its temp files are gone. */
  close(): Promise<void>;
  /**
   * Takes no new task, lets the running one finish and deliver its result, or hands it back when
   * only the hand-back reserve of `graceMs` is left; then closes.
   */
  drain(): Promise<"finished" | "handed-back">;
}

/**
 * @example
 * const { port, close } = await startTranscoderServer(readServerConfig());
 * // listening on http://127.0.0.1:8788
 */
export async function startTranscoderServer(config: ServerConfig): Promise<TranscoderServer> {
  await clearWorkRoot(config.workRoot);
  // ffmpeg reads masters through it, so storage is asked for closed ranges only (range-proxy.ts).
  const rangeProxy = await startRangeProxy();
  // The storage origin, and the range proxy in front of it on the loopback (the keyframe index reads through it too).
  const unrestrict = config.storageOrigins ? restrictEgress([...config.storageOrigins, rangeProxy.origin]) : () => {};
  const { server, cancelCurrent, drain } = createTranscoderServer(config, rangeProxy);
  await new Promise<void>((ready) => server.listen(config.port, config.host, ready));
  const { port } = server.address() as AddressInfo;
  const quota = config.scratchQuotaBytes === null ? "no scratch quota" : `scratch quota ${formatBytes(config.scratchQuotaBytes)}`;
  config.log(`listening on http://${config.host}:${port} (work dir ${config.workRoot}, preset ${config.preset}, ${quota})`);
  const close = async () => {
    const closed = new Promise<void>((done) => server.close(() => done()));
    await cancelCurrent();
    server.closeAllConnections();
    await closed;
    await rangeProxy.close();
    unrestrict();
  };
  return {
    server,
    port,
    close,
    drain: async () => {
      const outcome = await drain(config.graceMs);
      await close();
      return outcome;
    },
  };
}

/** The task this instance is running. */
interface Running {
  id: string;
  attempt: number;
  controller: AbortController;
  finished: Promise<void>;
  /** Set when a shutdown stops it: its end is reported as `handed-back`, not as a failure. */
  handedBack?: string;
}

export function createTranscoderServer(
  config: ServerConfig,
  rangeProxy?: RangeProxy,
): { server: Server; cancelCurrent: () => Promise<void>; drain: (graceMs: number) => Promise<"finished" | "handed-back"> } {
  let current: Running | null = null;
  /** Set by SIGTERM: no new task is taken. */
  let draining = false;
  /** Result callbacks still being delivered after their task ended; waited for on shutdown. */
  const deliveries = new Set<{ reporter: TaskReporter; done: Promise<unknown> }>();

  /** Takes the one slot; null when something else runs. */
  const occupy = (id: string, attempt: number): { running: Running; release: () => void } | null => {
    if (current) return null;
    let release = () => {};
    const running: Running = {
      id,
      attempt,
      controller: new AbortController(),
      finished: new Promise<void>((done) => (release = done)),
    };
    current = running;
    return {
      running,
      release: () => {
        if (current === running) current = null;
        release();
      },
    };
  };
  const busy = (response: ServerResponse) => {
    const body: TranscoderBusy = {
      error: current ? `busy with task ${current.id}` : "busy",
      running: current ? { taskId: current.id, attempt: current.attempt } : null,
    };
    sendJson(response, 429, body, { "retry-after": String(config.retryAfterSeconds) });
  };
  const authorized = (request: IncomingMessage, response: ServerResponse) => {
    if (!config.token || request.headers.authorization === `Bearer ${config.token}`) return true;
    sendJson(response, 401, { error: "missing or wrong bearer token" }, { "www-authenticate": "Bearer" });
    return false;
  };

  /** What a task runs with: its storage grant, this instance's ffmpeg and limits. */
  const dependencies = (storage: TranscodeTask["storage"], controller: AbortController, log: (message: string) => void) => ({
    storage: new HttpStorage(storage.baseUrl, storage.token, { rangeProxy, source: { token: storage.sourceToken } }),
    tools: config.tools,
    workRoot: config.workRoot,
    preset: config.preset,
    stallTimeoutMs: config.stallTimeoutMs,
    scratchQuotaBytes: config.scratchQuotaBytes,
    signal: controller.signal,
    log,
  });

  const handleTask = async (request: IncomingMessage, response: ServerResponse) => {
    if (!authorized(request, response)) return;
    const body = await readJsonBody(request, maxTaskBodyBytes);
    const parsed = body.ok ? parseTaskRequest(body.value) : { ok: false as const, errors: [body.error] };
    if (!parsed.ok) return sendJson(response, 400, { error: "invalid task", errors: parsed.errors });
    const task = parsed.task;
    const refused = config.storageOrigins
      ? originProblems(config.storageOrigins, { "storage.baseUrl": task.storage.baseUrl, callbackUrl: task.callbackUrl })
      : [];
    if (refused.length > 0)
      return sendJson(response, 403, { error: "task names an origin this transcoder may not reach", errors: refused });
    if (draining) {
      return sendJson(
        response,
        503,
        { error: "shutting down: this instance takes no new task" },
        { "retry-after": String(config.retryAfterSeconds) },
      );
    }
    if (current && current.id === task.taskId && current.attempt === task.attempt) {
      // A duplicate dispatch of the attempt that runs: it goes on, once.
      const accepted: TaskAccepted = { taskId: task.taskId, attempt: task.attempt, state: "already-running" };
      return sendJson(response, 202, accepted);
    }
    const slot = occupy(task.taskId, task.attempt);
    if (!slot) return busy(response);
    const accepted: TaskAccepted = { taskId: task.taskId, attempt: task.attempt, state: "started" };
    sendJson(response, 202, accepted);
    runTaskInBackground(task, slot);
  };

  const runTaskInBackground = (task: TranscodeTask, slot: { running: Running; release: () => void }) => {
    const { controller } = slot.running;
    const started = Date.now();
    const log = (message: string) =>
      config.log(
        `task=${task.taskId} attempt=${task.attempt} video=${task.videoId} +${((Date.now() - started) / 1000).toFixed(2)}s ${message}`,
      );
    const reporter = new TaskReporter(task, {
      progressIntervalMs: config.progressIntervalMs,
      heartbeatMs: config.heartbeatMs,
      giveUpMs: config.callbackGiveUpMs,
      log,
      onSuperseded: (why) => {
        log(`superseded (${why}); stopping`);
        controller.abort();
      },
    });
    log(`started ${task.kind}: ${task.sourceKey} -> ${task.outputPrefix}${task.attemptTag}*`);
    const work = (async () => {
      let event: Extract<TaskEvent, { type: "done" | "failed" | "handed-back" }>;
      try {
        const result = await runTask(task, {
          ...dependencies(task.storage, controller, log),
          onProgress: (percent) => reporter.progress(percent),
        });
        log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        event = { type: "done", result };
      } catch (error) {
        const failure = toJobFailure(error);
        const handedBack = slot.running.handedBack;
        if (handedBack) {
          log(`stopped to hand it back: ${handedBack}`);
          event = { type: "handed-back", reason: handedBack };
        } else {
          log(`failed (${failure.retryable ? "retryable" : "final"}): ${failure.message}`);
          event = {
            type: "failed",
            retryable: failure.retryable,
            reason: failure.message,
            ...(failure.qualityReport ? { qualityReport: failure.qualityReport } : {}),
          };
        }
      } finally {
        // The outputs are stored: the instance may take the next task while the result is delivered.
        slot.release();
      }
      const delivery = { reporter, done: reporter.finish(event) };
      deliveries.add(delivery);
      const outcome = await delivery.done;
      deliveries.delete(delivery);
      log(`${event.type} callback ${outcome}`);
    })();
    work.catch((error: unknown) => config.log(`unexpected error: ${error instanceof Error ? error.stack : String(error)}`));
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://transcoder").pathname;
    const handle = (handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>) =>
      handler(request, response).catch((error: unknown) => {
        config.log(`unexpected error: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) sendJson(response, 500, { error: "internal error" });
        else response.end();
      });
    if (path === "/healthz" && request.method === "GET") {
      const running = current ? { taskId: current.id, attempt: current.attempt } : null;
      return sendJson(response, 200, {
        status: draining ? "draining" : "ok",
        busy: current !== null,
        running,
        scratchQuotaBytes: config.scratchQuotaBytes,
      });
    }
    if (path === "/tasks" && request.method === "POST") return void handle(handleTask);
    const cancel = /^\/tasks\/([^/]+)$/.exec(path);
    if (cancel && request.method === "DELETE") {
      if (!authorized(request, response)) return;
      const taskId = decodeURIComponent(cancel[1] as string);
      if (current?.id !== taskId) return sendJson(response, 404, { error: `task ${taskId} is not running here` });
      current.controller.abort();
      return void response.writeHead(204).end();
    }
    if (path === "/healthz" || path === "/tasks" || cancel) return sendJson(response, 405, { error: "method not allowed" });
    sendJson(response, 404, { error: "not found" });
  });

  const cancelCurrent = async () => {
    for (const delivery of deliveries) delivery.reporter.close();
    if (current) {
      current.controller.abort();
      await current.finished;
    }
    await Promise.all([...deliveries].map((delivery) => delivery.done));
  };
  const drain = async (graceMs: number): Promise<"finished" | "handed-back"> => {
    draining = true;
    const delivered = () => Promise.all([...deliveries].map((delivery) => delivery.done));
    const running = current;
    if (running) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), graceMs - handBackReserveMs(graceMs));
      });
      const outcome = await Promise.race([running.finished.then(() => "finished" as const), late]);
      clearTimeout(timer);
      if (outcome === "late" && current === running) {
        running.handedBack = `the transcoder was shutting down (a rollout) and the task could not finish within its ${Math.round(graceMs / 1000)} s grace`;
        running.controller.abort();
        await running.finished;
        await delivered();
        return "handed-back";
      }
    }
    await delivered();
    return "finished";
  };
  return { server, cancelCurrent, drain };
}

/**
 * What is kept of the grace for stopping a task and handing it back (ffmpeg stopped, the attempt's
 * objects deleted, the callback delivered; on the loaded local stack that took up to 5 s): a
 * minute of Cloudflare's 15, half of a short test grace.
 */
export function handBackReserveMs(graceMs: number): number {
  return Math.min(60_000, Math.floor(graceMs / 2));
}

/** A finalize task lists every chunk's segments: about 70 bytes each, 10,000 for a two-hour film. */
const maxTaskBodyBytes = 16 * 1024 * 1024;

async function readJsonBody(
  request: IncomingMessage,
  maxBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return { ok: false, error: `body: larger than ${maxBytes} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { ok: false, error: "body: not valid JSON" };
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

/** One transcoder process per work folder: anything in it at start belongs to a dead predecessor. */
async function clearWorkRoot(workRoot: string): Promise<void> {
  await mkdir(workRoot, { recursive: true });
  for (const entry of await readdir(workRoot)) await rm(join(workRoot, entry), { recursive: true, force: true });
}

function positiveInteger(value: string | undefined, fallback: number, name: string, allowZero = false): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < (allowZero ? 0 : 1))
    throw new Error(`${name} must be a ${allowZero ? "non-negative" : "positive"} integer`);
  return number;
}

/** Bytes, written plainly or with a binary suffix: "2147483648", "2G", "512M". Unset: null (no limit). */
function byteSize(value: string | undefined, name: string): number | null {
  if (value === undefined || value === "") return null;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(value.trim());
  if (!match) throw new Error(`${name} must be a size in bytes, such as 2147483648 or 2G`);
  const power = ["", "K", "M", "G", "T"].indexOf((match[2] ?? "").toUpperCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

function positiveNumber(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!(number > 0)) throw new Error(`${name} must be a positive number`);
  return number;
}

async function main(): Promise<void> {
  const server = await startTranscoderServer(readServerConfig());
  const shutdown = (signal: string) => {
    console.log(`${signal}: shutting down`);
    server.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => {
    console.log("SIGTERM: draining (no new task; the running one goes on to its result)");
    server.drain().then((outcome) => {
      console.log(
        outcome === "finished"
          ? "drained: the running task finished"
          : "drained: the running task could not finish in time and was handed back",
      );
      process.exit(0);
    });
  });
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
