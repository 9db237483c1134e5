/**
 * `npm start`: the whole platform on one machine, no server installed.
 * Embedded Postgres (PGlite, data kept in .reelstream/pgdata) behind the WebSocket proxy the Neon
 * driver needs, migrations applied, then `wrangler dev` (KV, R2, Durable Objects, Queues and rate
 * limiters simulated by miniflare, data in .reelstream/wrangler) and two transcoders as local
 * processes (one that dies is started again). Ctrl-C stops everything. On the first start, `npm run seed` runs in the background so
 * the catalog is not empty (SEED=0 skips it; so does DATABASE_URL, a database that is not ours).
 * The web app is built once into web/dist (what the Worker serves, as in production), and the
 * Vite dev server serves it with live reload on WEB_PORT (default 5173), proxying the API to the Worker.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { ensureDevVars } from "./lib/dev-vars.ts";
import {
  connectDatabase,
  migrateDatabase,
  portIsFree,
  removeDevStackLock,
  repoRoot,
  restartTranscoder,
  runningDevStack,
  startLocalStack,
  stateDir,
  writeDevStackLock,
} from "./lib/local-stack/index.ts";
import { prefixedLogger, spawnPrefixed, stopChild } from "./lib/processes.ts";
import { buildWebApp, startWebDevServer } from "./lib/web-app.ts";

const port = Number(process.env.PORT ?? 8787);
const workerUrl = `http://localhost:${port}`;
const log = prefixedLogger("dev", "green");
const dbLog = prefixedLogger("db", "magenta");
/** A transcoder may die this often within the window and be restarted; once more stops the stack. */
const TRANSCODER_CRASHES_TOLERATED = 5;
const TRANSCODER_CRASH_WINDOW_MS = 60_000;
/** Written once the first start's seed has finished: later starts leave the catalog alone. */
const seededMarker = `${stateDir}/seeded`;

/** The transcoder (and the seed's clip generator) need ffmpeg: FFMPEG_PATH, else the one on PATH. */
function ffmpegAvailable(): boolean {
  return spawnSync(process.env.FFMPEG_PATH || "ffmpeg", ["-version"], { stdio: "ignore" }).status === 0;
}

/**
 * Runs `scripts/seed.ts` in the background, once, when this state folder has never been seeded.
 * It talks to the Worker like any client, so the Worker never waits for it; an interrupted seed
 * runs again on the next start (it skips the demos already there).
 */
function seedOnFirstStart(): ChildProcess | undefined {
  const seedLog = prefixedLogger("seed", "blue");
  if (process.env.SEED === "0") return undefined;
  if (process.env.DATABASE_URL) {
    seedLog("DATABASE_URL is set: not seeding it (run `npm run seed` to add the demo videos)");
    return undefined;
  }
  if (existsSync(seededMarker)) return undefined;
  if (!ffmpegAvailable()) {
    seedLog("ffmpeg is not installed, so nothing can be transcoded: install it (apt-get install ffmpeg) and start again");
    return undefined;
  }
  seedLog("first start: uploading three demo videos in the background (SEED=0 skips this)");
  const child = spawnPrefixed(
    "seed",
    "blue",
    process.execPath,
    [`${repoRoot}node_modules/tsx/dist/cli.mjs`, `${repoRoot}scripts/seed.ts`],
    { cwd: repoRoot, parentDeathSignal: "TERM" },
  );
  child.once("exit", (code) => {
    if (code === 0) {
      writeFileSync(seededMarker, new Date().toISOString());
      seedLog("done: the demo videos are in the catalog");
    } else if (code !== null) {
      seedLog(`the seed stopped (code ${code}); it runs again on the next start, or run \`npm run seed\``);
    }
  });
  return child;
}

async function main() {
  const running = runningDevStack();
  if (running) {
    console.error(`Reelstream is already running (pid ${running.pid}) at ${running.workerUrl}, started ${running.startedAt}.`);
    console.error(`Use that one, or stop it with Ctrl-C in its terminal (or \`kill ${running.pid}\`) before starting another.`);
    process.exit(1);
  }
  if (!(await portIsFree(port))) {
    console.error(`Port ${port} is in use by another program. Stop it, or run with PORT=<another port> npm start.`);
    process.exit(1);
  }

  const { created } = await ensureDevVars();
  if (created.length > 0) log(`generated development secrets in .dev.vars: ${created.join(", ")}`);

  // Built before wrangler starts: it reloads when the folder it serves changes.
  const webBuild = buildWebApp().then(
    () => log("web app built into web/dist"),
    (error: unknown) => log(`the web app did not build (${error instanceof Error ? error.message : error}); the API runs without it`),
  );
  const database = await connectDatabase();
  dbLog(`Postgres: ${database.source}${database.wsProxy ? `, Neon driver through ws://${database.wsProxy}` : ""}`);
  await migrateDatabase(database);
  dbLog("migrations applied");

  writeDevStackLock({
    pid: process.pid,
    workerUrl,
    databaseUrl: database.url,
    wsProxy: database.wsProxy,
    startedAt: new Date().toISOString(),
  });
  await webBuild;
  const stack = await startLocalStack({
    database,
    port,
    watch: true,
    persistTo: `${stateDir}/wrangler`,
    // Two transcoders standing in for two container instances (ports 8788 and 8789): tasks of one
    // upload run side by side, and a burst of uploads waits for a free one, as in production.
    transcoders: 2,
    transcoderPort: Number(process.env.TRANSCODER_PORT ?? 8788),
    // Ctrl-C must work while it starts: wait below, with the handlers in place.
    readyTimeoutMs: 0,
    // The production cron runs every minute; CRON_SECONDS runs it more often (a test does).
    cronSeconds: Number(process.env.CRON_SECONDS ?? 60),
  });

  let stopping = false;
  let seed: ChildProcess | undefined;
  let web: Awaited<ReturnType<typeof startWebDevServer>> | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log("stopping…");
    if (seed) await stopChild(seed);
    await web?.close();
    await stack.stop();
    await database.stop();
    removeDevStackLock();
    log("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  stack.worker.once("exit", (code, signal) => {
    if (!stopping) {
      log(`the Worker exited (${signal ?? `code ${code}`}); stopping the rest`);
      void stop(code ?? 1);
    }
  });
  // A transcoder that dies is started again, as Cloudflare replaces a container instance; the
  // cron's lease check hands its task to another. One that keeps dying stops the stack.
  for (const transcoder of stack.transcoders) {
    const crashes: number[] = [];
    const watch = (child: ChildProcess) =>
      child.once("exit", (code, signal) => {
        if (stopping) return;
        const now = Date.now();
        crashes.push(now);
        while ((crashes[0] ?? now) < now - TRANSCODER_CRASH_WINDOW_MS) crashes.shift();
        const name = transcoder.options.name ?? "transcoder";
        if (crashes.length > TRANSCODER_CRASHES_TOLERATED) {
          log(`${name} exited ${crashes.length} times within a minute (last: ${signal ?? `code ${code}`}); stopping the rest`);
          void stop(code ?? 1);
          return;
        }
        log(`${name} exited (${signal ?? `code ${code}`}); restarting it on port ${transcoder.port}`);
        watch(restartTranscoder(transcoder));
      });
    watch(transcoder.process);
  }

  if (await stack.ready(120_000)) {
    log(`Reelstream is up: ${workerUrl}  (API reference: ${workerUrl}/docs, health: ${workerUrl}/health). Ctrl-C stops everything.`);
    if (!stopping) seed = seedOnFirstStart();
    if (!stopping) {
      web = await startWebDevServer(Number(process.env.WEB_PORT ?? 5173), workerUrl);
      log(
        `web app with live reload: ${web.resolvedUrls?.local[0] ?? "(no address)"}  (the Worker serves the start-up build at ${workerUrl})`,
      );
    }
  } else if (!stopping) {
    log(`the Worker did not answer on ${workerUrl}/health within 2 minutes; see the [worker] lines above`);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  removeDevStackLock();
  process.exit(1);
});
