import { type ChildProcess, execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { DatabaseConnection } from "./local-stack.ts";
import { repoRoot } from "./local-stack.ts";
import { spawnPrefixed, stopChild, waitForHttp } from "./processes.ts";

export interface StackOptions {
  port: number;
  database: DatabaseConnection;
  /** Where miniflare keeps KV, R2, Durable Object and queue data. */
  persistTo: string;
  /** Extra `--var` bindings (bench keys, test settings). */
  vars?: Record<string, string>;
  transcoderPort?: number;
  /**
   * `npm start` keeps wrangler's file watching: an edit rebuilds and restarts the runtime. Tests
   * and benchmarks turn it off (`false`), because a restart drops what miniflare holds in memory,
   * queue messages included (a job waiting out its retry delay is lost). Default true.
   */
  watch?: boolean;
  /**
   * The folder of web app files the Worker serves (Workers Static Assets), instead of
   * wrangler.toml's `web/dist`. The browser tests pass a build of their own, so that no build
   * lands in a folder another running stack watches (wrangler dev reloads when its assets change).
   */
  assets?: string;
}

export interface RunningStack {
  url: string;
  children: ChildProcess[];
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once("error", reject)
      .listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
      .once("error", () => resolve(false))
      .once("listening", () => server.close(() => resolve(true)))
      .listen(port, "127.0.0.1");
  });
}

const wranglerBin = `${repoRoot}node_modules/wrangler/bin/wrangler.js`;
const transcoderEntry = `${repoRoot}transcoder/src/server.ts`;
/** wrangler.toml's `[assets] directory`: the web app as `npm run build` leaves it. */
export const webDist = `${repoRoot}web/dist`;
// No network here for the `cf` object or telemetry; miniflare uses a placeholder.
const wranglerEnv = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" };

/**
 * The Worker bundled once, as `wrangler deploy` would upload it. `wrangler dev` has no flag to stop
 * watching sources, but run with `--no-bundle` on this bundle it watches only a file that nobody
 * edits (and WRANGLER_CI_DISABLE_CONFIG_WATCHING stops it reloading when wrangler.toml changes).
 */
async function bundleWorkerOnce(assetArgs: string[]): Promise<{ entry: string; remove(): void }> {
  const outdir = mkdtempSync(join(tmpdir(), "reelstream-worker-bundle-"));
  await promisify(execFile)(process.execPath, [wranglerBin, "deploy", "--dry-run", "--outdir", outdir, ...assetArgs], {
    cwd: repoRoot,
    env: { ...process.env, ...wranglerEnv },
  });
  return { entry: join(outdir, "index.js"), remove: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** The Node transcoder on `port`, with prefixed logs (tests restart it after killing it). */
export function startTranscoder(port: number): ChildProcess {
  return spawnPrefixed("transcoder", "yellow", process.execPath, ["--experimental-strip-types", "--no-warnings", transcoderEntry], {
    cwd: repoRoot,
    env: { PORT: String(port) },
  });
}

/**
 * Starts `wrangler dev` (and the transcoder, once it exists) against a database that is already
 * up and migrated. Used by `npm start`, the benchmarks and the start-up smoke test.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const node = process.execPath;
  const transcoderPort = options.transcoderPort ?? 8788;
  const vars: Record<string, string> = {
    DATABASE_URL: options.database.url,
    // The transcoder calls back PUBLIC_BASE_URL/internal/storage: it must name this Worker's port.
    PUBLIC_BASE_URL: `http://localhost:${options.port}`,
    // The queue consumer posts jobs here; without it, it would look for the production container.
    ...(existsSync(transcoderEntry) ? { TRANSCODER_URL: `http://127.0.0.1:${transcoderPort}` } : {}),
    ...options.vars,
  };
  if (options.database.wsProxy) vars.DATABASE_WS_PROXY = options.database.wsProxy;
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  // wrangler refuses to start when the assets folder is missing, as it is in a fresh clone before
  // `npm run build`: an empty one serves no app, and the API runs as before.
  if (!options.assets) mkdirSync(webDist, { recursive: true });
  const assetArgs = options.assets ? ["--assets", options.assets] : [];
  const bundle = options.watch === false ? await bundleWorkerOnce(assetArgs) : undefined;
  const children = [
    spawnPrefixed(
      "worker",
      "cyan",
      node,
      [
        wranglerBin,
        "dev",
        ...(bundle ? [bundle.entry, "--no-bundle", "--config", `${repoRoot}wrangler.toml`] : []),
        "--port",
        String(options.port),
        "--ip",
        "127.0.0.1",
        "--persist-to",
        options.persistTo,
        "--show-interactive-dev-session=false",
        ...assetArgs,
        ...varArgs,
      ],
      { cwd: repoRoot, env: bundle ? { ...wranglerEnv, WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" } : wranglerEnv },
    ),
  ];
  if (existsSync(transcoderEntry)) children.push(startTranscoder(transcoderPort));
  const url = `http://localhost:${options.port}`;
  return {
    url,
    children,
    stop: async () => {
      await Promise.all(children.map((child) => stopChild(child)));
      bundle?.remove();
    },
  };
}

export { waitForHttp };
