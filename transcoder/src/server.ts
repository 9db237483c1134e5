import { mkdir, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type X264Preset, x264Presets } from "./ffmpeg-command.ts";
import { type FfmpegTools, resolveFfmpegTools } from "./ffmpeg-tools.ts";
import { HttpStorage } from "./http-storage.ts";
import { parseJobRequest } from "./job-request.ts";
import type { QualityReport } from "./quality-check.ts";
import { defaultStallTimeoutMs, type JobResult, type JobStage, runJob, toJobFailure } from "./run-job.ts";

/**
 * The transcoder's HTTP entry, the same in a Cloudflare Container and as a local Node process:
 *
 * - `GET /healthz`: 200 `{ status: "ok", busy }`
 * - `POST /jobs` with a JobRequest body: 200 and an NDJSON stream of JobEvents, one per line,
 *   ending with `done` or `failed`. Closing the connection cancels the job (ffmpeg is killed,
 *   temp files removed). One job at a time: a second POST meanwhile gets 429 with Retry-After,
 *   and the caller (the Worker's queue consumer) retries it.
 */

export type JobEvent =
  | { type: "progress"; stage: JobStage; percent: number }
  | { type: "done"; result: JobResult }
  | { type: "failed"; retryable: boolean; reason: string; qualityReport?: QualityReport };

export interface ServerConfig {
  port: number;
  host: string;
  /** Job temp folders live here; whatever a killed predecessor left is removed at start. */
  workRoot: string;
  tools: FfmpegTools;
  preset: X264Preset;
  stallTimeoutMs: number;
  /** When set, POST /jobs needs `Authorization: Bearer {token}`. */
  token: string | null;
  /** A progress line is repeated this often even without news, so idle-timeouts see traffic. */
  heartbeatMs: number;
  retryAfterSeconds: number;
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
    stallTimeoutMs: positiveInteger(env.TRANSCODER_STALL_SECONDS, defaultStallTimeoutMs / 1000, "TRANSCODER_STALL_SECONDS") * 1000,
    token: env.TRANSCODER_TOKEN || null,
    heartbeatMs: positiveNumber(env.TRANSCODER_HEARTBEAT_SECONDS, 10, "TRANSCODER_HEARTBEAT_SECONDS") * 1000,
    retryAfterSeconds: 30,
    log: (line) => console.log(line),
  };
}

export interface TranscoderServer {
  server: Server;
  port: number;
  /** Stops listening, cancels the running job and waits until its temp files are gone. */
  close(): Promise<void>;
}

/**
 * @example
 * const { port, close } = await startTranscoderServer(readServerConfig());
 * // listening on http://127.0.0.1:8788
 */
export async function startTranscoderServer(config: ServerConfig): Promise<TranscoderServer> {
  await clearWorkRoot(config.workRoot);
  const { server, cancelCurrentJob } = createTranscoderServer(config);
  await new Promise<void>((ready) => server.listen(config.port, config.host, ready));
  const { port } = server.address() as AddressInfo;
  config.log(`listening on http://${config.host}:${port} (work dir ${config.workRoot}, preset ${config.preset})`);
  return {
    server,
    port,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      await cancelCurrentJob();
      server.closeAllConnections();
      await closed;
    },
  };
}

export function createTranscoderServer(config: ServerConfig): { server: Server; cancelCurrentJob: () => Promise<void> } {
  let current: { jobId: string; controller: AbortController; finished: Promise<void> } | null = null;

  const handleJob = async (request: IncomingMessage, response: ServerResponse) => {
    if (config.token && request.headers.authorization !== `Bearer ${config.token}`) {
      return sendJson(response, 401, { error: "missing or wrong bearer token" }, { "www-authenticate": "Bearer" });
    }
    if (current) {
      request.resume();
      return sendJson(response, 429, { error: `busy with job ${current.jobId}` }, { "retry-after": String(config.retryAfterSeconds) });
    }
    const body = await readJsonBody(request);
    const parsed = body.ok ? parseJobRequest(body.value) : { ok: false as const, errors: [body.error] };
    if (!parsed.ok) return sendJson(response, 400, { error: "invalid job", errors: parsed.errors });
    if (current) return sendJson(response, 429, { error: "busy" }, { "retry-after": String(config.retryAfterSeconds) });

    const { job, storage } = parsed.request;
    const controller = new AbortController();
    let finish = () => {};
    current = { jobId: job.jobId, controller, finished: new Promise<void>((done) => (finish = done)) };
    const started = Date.now();
    // Each line says how far into the job it was written: where a slow job spent its time.
    const log = (message: string) =>
      config.log(`job=${job.jobId} video=${job.videoId} +${((Date.now() - started) / 1000).toFixed(2)}s ${message}`);
    response.on("close", () => {
      if (!response.writableFinished && !controller.signal.aborted) {
        log("client went away; cancelling");
        controller.abort();
      }
    });

    response.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-accel-buffering": "no" });
    const send = (event: JobEvent) => {
      if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify(event)}\n`);
    };
    let last: { stage: JobStage; percent: number } | null = null;
    const heartbeat = setInterval(() => last && send({ type: "progress", ...last }), config.heartbeatMs);

    log(`started: ${job.sourceKey} -> ${job.outputPrefix}`);
    try {
      const result = await runJob(job, {
        storage: new HttpStorage(storage.baseUrl, storage.token),
        tools: config.tools,
        workRoot: config.workRoot,
        preset: config.preset,
        stallTimeoutMs: config.stallTimeoutMs,
        signal: controller.signal,
        log,
        onProgress: (progress) => {
          if (last && last.stage === progress.stage && last.percent === progress.percent) return;
          last = progress;
          send({ type: "progress", ...progress });
        },
      });
      log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.renditions.map((r) => r.name).join(" ")}`);
      send({ type: "done", result });
    } catch (error) {
      const failure = toJobFailure(error);
      log(`failed (${failure.retryable ? "retryable" : "final"}): ${failure.message}`);
      send({
        type: "failed",
        retryable: failure.retryable,
        reason: failure.message,
        ...(failure.qualityReport ? { qualityReport: failure.qualityReport } : {}),
      });
    } finally {
      clearInterval(heartbeat);
      current = null;
      finish();
      response.end();
    }
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://transcoder").pathname;
    if (path === "/healthz" && request.method === "GET") return sendJson(response, 200, { status: "ok", busy: current !== null });
    if (path === "/jobs" && request.method === "POST") {
      handleJob(request, response).catch((error: unknown) => {
        config.log(`unexpected error: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) sendJson(response, 500, { error: "internal error" });
        else response.end();
      });
      return;
    }
    if (path === "/healthz" || path === "/jobs") return sendJson(response, 405, { error: "method not allowed" });
    sendJson(response, 404, { error: "not found" });
  });

  const cancelCurrentJob = async () => {
    if (!current) return;
    current.controller.abort();
    await current.finished;
  };
  return { server, cancelCurrentJob };
}

const maxBodyBytes = 64 * 1024;

async function readJsonBody(request: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return { ok: false, error: `body: larger than ${maxBodyBytes} bytes` };
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
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
