/**
 * The local stack, one way for everyone: `npm start`, the Vitest setup (the Worker tests'
 * database), the end-to-end tests and every benchmark.
 *
 * - `startDatabase(spec)`: embedded PGlite, a throw-away cluster of this machine's PostgreSQL, or a
 *   given URL; behind the WebSocket proxy the Neon driver needs; migrated.
 * - `startLocalStack(options)`: that database, `wrangler dev` (watched for `npm start`, bundled
 *   once for tests and benchmarks; the production Worker or, with `main`, another entry such as the
 *   test Worker) behind the stack's edge (edge.ts: the client's address, no `/cdn-cgi/` test
 *   triggers), N Node transcoders, the vars that tie them together; `stop()` ends everything.
 */

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instanceScratchBytes, isContainerInstanceType } from "../../../workers/platform/container-instances.ts";
import { generateMediaSigningKeys, generateSecret, generateSigningKeys } from "../dev-keys.ts";
import { prefixedLogger, stopChild, waitForHttp } from "../processes.ts";
import { type DatabaseSpec, type LocalDatabase, startDatabase } from "./database.ts";
import { type Edge, startEdge } from "./edge.ts";
import { stateDir } from "./paths.ts";
import { freePort } from "./ports.ts";
import { stopTranscoder } from "./rollout.ts";
import { startTranscoders, type Transcoder } from "./transcoders.ts";
import { startWorker, type WorkerConfigOptions, type WorkerOptions } from "./worker.ts";

export {
  connectDatabase,
  type DatabaseSpec,
  databaseFromEnv,
  installedPostgresql,
  type LocalDatabase,
  migrateDatabase,
  needsLocalProxy,
  type ServerControl,
  startDatabase,
} from "./database.ts";
export { type DevStackInfo, removeDevStackLock, runningDevStack, writeDevStackLock } from "./dev-lock.ts";
export { pgDataDir, repoRoot, stateDir } from "./paths.ts";
export { freePort, freePortRun, portIsFree } from "./ports.ts";
export { rollTranscoder, stopTranscoder, transcoderGraceMs } from "./rollout.ts";
export { restartTranscoder, startTranscoder, startTranscoders, type Transcoder } from "./transcoders.ts";
export { bundleWorker, webDist, wranglerConfig, writeWorkerConfig } from "./worker.ts";

export interface LocalStackOptions extends WorkerConfigOptions {
  /** A database to start (and stop with the stack), or one already running (left running). Default: in-memory PGlite. */
  database?: DatabaseSpec | LocalDatabase;
  /** The Worker's port; default a free one. */
  port?: number;
  /** Default false: the Worker on a bundle built once. `npm start` watches (see `startWorker`). */
  watch?: boolean;
  /** Where miniflare keeps its data (kept); default a throw-away folder. */
  persistTo?: string;
  /** Parent of the throw-away folders (configuration, bundle, miniflare data); default the OS's. */
  tempRoot?: string;
  /**
   * How many Node transcoders, each standing in for one container instance (the Worker's
   * `TRANSCODER_URLS` names them all, `TRANSCODER_MAX_INSTANCES` counts them); default 1.
   */
  transcoders?: number;
  /** The first transcoder's port (the next ones follow it); default free ports. */
  transcoderPort?: number;
  /**
   * Each transcoder's scratch-disk quota; default the disk of the configured instance type
   * (`TRANSCODER_INSTANCE_TYPE`, standard-4: 20 GB) less the image's share, as in production.
   */
  transcoderScratchBytes?: number;
  /** More environment for the transcoders (TRANSCODER_PRESET, …). */
  transcoderEnv?: Record<string, string>;
  /**
   * The transcoders' grace between SIGTERM and SIGKILL (`TRANSCODER_GRACE_SECONDS`: the transcoder
   * finishes or hands back its task within it, and the stack kills it after it, in
   * `rollTranscoder`; `stop()` ends the whole platform and stops the task at once); default
   * production's, 900 s. Tests shorten it.
   */
  transcoderGraceSeconds?: number;
  /** The CPUs each transcoder may use (`taskset --cpu-list`, one entry per transcoder); default all. */
  transcoderCpus?: readonly string[];
  /**
   * How often the stack runs the Worker's cron (`scheduled`: the transcode lease check), which
   * miniflare never triggers by itself; default every 60 s, as the production cron. 0: never.
   */
  cronSeconds?: number;
  /**
   * Keep a `CF-Connecting-IP` a client sends (edge.ts), for a harness that stands in for many
   * clients (sign-ups are limited per address). Default: true for a throw-away stack, false for
   * `npm start` (`watch`), where the address is always the connection's, as Cloudflare sets it.
   */
  trustClientAddress?: boolean;
  /** More `--var` bindings, over the stack's own. */
  vars?: Record<string, string>;
  logLevel?: WorkerOptions["logLevel"];
  /** How long to wait for the Worker and the transcoders to answer; 0 returns at once (then call `ready()`). Default 120 s. */
  readyTimeoutMs?: number;
}

export interface LocalStack {
  /** The Worker's origin, `http://localhost:<port>` (its `PUBLIC_BASE_URL`). */
  url: string;
  port: number;
  database: LocalDatabase;
  worker: ChildProcess;
  transcoders: Transcoder[];
  /** Every `--var` the Worker got, the generated secrets included (tests sign with them). */
  vars: Record<string, string>;
  /** The Worker and transcoder processes as they are now. */
  processes(): ChildProcess[];
  /** Resolves true once `/health` and every transcoder's `/healthz` answer; false on timeout or when one exits. */
  ready(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** The scratch quota of one transcoder standing in for an instance of `type` (default standard-4). */
export function transcoderScratchBytes(type = "standard-4"): number {
  if (!isContainerInstanceType(type)) throw new Error(`TRANSCODER_INSTANCE_TYPE '${type}' is not an instance type`);
  return instanceScratchBytes(type);
}

/**
 * The Worker's cron, locally: miniflare does not run `[triggers]`, so the stack calls the
 * scheduled handler every `seconds` through wrangler dev's trigger route (`/cdn-cgi/local/scheduled`)
 * on wrangler's own loopback port, which the stack's edge does not expose. Says when it first ran
 * and whenever it fails. Returns the stop.
 */
function startCron(workerOrigin: string, seconds: number): () => void {
  if (!(seconds > 0)) return () => {};
  const log = prefixedLogger("cron", "green");
  let ran = false;
  let lastProblem = "";
  const timer = setInterval(() => {
    fetch(`${workerOrigin}/cdn-cgi/local/scheduled?cron=*+*+*+*+*`, { signal: AbortSignal.timeout(30_000) })
      .then(async (response) => {
        await response.body?.cancel();
        if (response.ok && !ran) log(`the Worker's scheduled handler ran (every ${seconds} s, as the production cron)`);
        ran ||= response.ok;
        const problem = response.ok ? "" : `the Worker's scheduled handler answered ${response.status}`;
        if (problem && problem !== lastProblem) log(problem);
        lastProblem = problem;
      })
      .catch(() => undefined);
  }, seconds * 1000);
  return () => clearInterval(timer);
}

function isSpec(database: DatabaseSpec | LocalDatabase): database is DatabaseSpec {
  return "kind" in database;
}

/** Fresh secrets for a throw-away Worker, which reads no `.dev.vars`. */
async function throwAwaySecrets(): Promise<Record<string, string>> {
  return {
    JWT_SIGNING_KEYS: await generateSigningKeys("local-stack"),
    MEDIA_SIGNING_KEYS: generateMediaSigningKeys("local-stack"),
    INTERNAL_SIGNING_SECRET: generateSecret(),
  };
}

/** Resolves when the child exits: a stack whose Worker died is not going to become ready. */
function exited(child: ChildProcess): Promise<false> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(false);
  return new Promise((resolve) => child.once("exit", () => resolve(false)));
}

/**
 * Starts a whole local stack and, unless `readyTimeoutMs` is 0, waits until it answers (on a
 * timeout it stops everything and throws).
 *
 * @example
 * const stack = await startLocalStack({ main: testWorkerEntry, database: databaseFromEnv("BENCH") });
 * try {
 *   await fetch(`${stack.url}/health`);
 * } finally {
 *   await stack.stop();
 * }
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const spec = options.database ?? { kind: "pglite" };
  const database = isSpec(spec) ? await startDatabase(spec) : spec;
  const watch = options.watch ?? false;
  // Configuration, bundle, miniflare data and transcoder work folders of a throw-away stack;
  // `npm start` keeps its own in the state folder.
  const throwAway =
    !watch ||
    options.main !== undefined ||
    options.configure !== undefined ||
    options.assets !== undefined ||
    options.persistTo === undefined;
  const scratchDir = throwAway ? mkdtempSync(join(options.tempRoot ?? tmpdir(), "reelstream-stack-")) : undefined;
  let worker: ChildProcess | undefined;
  let edge: Edge | undefined;
  let transcoders: Transcoder[] = [];
  const processes = () => [...(worker ? [worker] : []), ...transcoders.map((transcoder) => transcoder.process)];
  let stopCron = () => {};
  const stop = async () => {
    stopCron();
    await edge?.close();
    // The whole platform goes down, not a rollout: the transcoders stop their task at once (SIGINT).
    await Promise.all([...(worker ? [stopChild(worker)] : []), ...transcoders.map((transcoder) => stopTranscoder(transcoder, "now"))]);
    if (isSpec(spec)) await database.stop();
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };

  try {
    const port = options.port ?? (await freePort());
    // The transcoders take tasks only from this Worker (TRANSCODER_TOKEN on both sides).
    const transcoderToken = generateSecret();
    transcoders = await startTranscoders(options.transcoders ?? 1, {
      firstPort: options.transcoderPort,
      workRoot: scratchDir ?? join(stateDir, "transcoders"),
      scratchBytes: options.transcoderScratchBytes ?? transcoderScratchBytes(options.vars?.TRANSCODER_INSTANCE_TYPE),
      env: {
        TRANSCODER_TOKEN: transcoderToken,
        // The one origin a transcoder may reach, as the container's outbound handler is its one way out.
        TRANSCODER_STORAGE_ORIGINS: new URL(options.vars?.PUBLIC_BASE_URL ?? `http://localhost:${port}`).origin,
        ...(options.transcoderGraceSeconds ? { TRANSCODER_GRACE_SECONDS: String(options.transcoderGraceSeconds) } : {}),
        ...options.transcoderEnv,
      },
      cpus: options.transcoderCpus,
    });
    const vars: Record<string, string> = {
      DATABASE_URL: database.url,
      ...(database.wsProxy ? { DATABASE_WS_PROXY: database.wsProxy } : {}),
      // The transcoder calls back PUBLIC_BASE_URL/internal/storage: it must name this Worker's port.
      PUBLIC_BASE_URL: `http://localhost:${port}`,
      // The queue consumer dispatches tasks to these; without them, it would look for the production containers.
      ...(transcoders.length > 0
        ? {
            TRANSCODER_URLS: transcoders.map((transcoder) => transcoder.url).join(","),
            TRANSCODER_TOKEN: transcoderToken,
            TRANSCODER_MAX_INSTANCES: String(transcoders.length),
          }
        : {}),
      // npm start keeps its secrets in .dev.vars; a throw-away stack gets throw-away ones.
      ...(watch ? {} : await throwAwaySecrets()),
      ...options.vars,
    };
    // wrangler dev on a loopback port of its own; clients reach it through the edge on `port`.
    const workerPort = await freePort();
    worker = await startWorker({
      port: workerPort,
      vars,
      watch,
      main: options.main,
      configure: options.configure,
      assets: options.assets,
      persistTo: options.persistTo ?? join(scratchDir ?? "", "state"),
      scratchDir,
      logLevel: options.logLevel,
    });
    const running = worker;
    edge = await startEdge({ port, upstreamPort: workerPort, trustClientAddress: options.trustClientAddress ?? !watch });
    const url = edge.url;
    stopCron = startCron(`http://127.0.0.1:${workerPort}`, options.cronSeconds ?? 60);
    const stack: LocalStack = {
      url,
      port,
      database,
      worker: running,
      transcoders,
      vars,
      processes,
      async ready(timeoutMs = 120_000) {
        const polling = new AbortController();
        const answers = Promise.all([
          waitForHttp(`${url}/health`, timeoutMs, polling.signal),
          ...transcoders.map((transcoder) => waitForHttp(`${transcoder.url}/healthz`, timeoutMs, polling.signal)),
        ]).then((results) => results.every(Boolean));
        const result = await Promise.race([answers, exited(running), ...transcoders.map((transcoder) => exited(transcoder.process))]);
        polling.abort();
        return result;
      },
      stop,
    };
    const timeoutMs = options.readyTimeoutMs ?? 120_000;
    if (timeoutMs > 0 && !(await stack.ready(timeoutMs))) {
      throw new Error(`the local stack did not answer within ${timeoutMs / 1000} s; see the [worker] and [transcoder] lines above`);
    }
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}
