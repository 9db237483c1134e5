import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { prefixedLogger, spawnPrefixed } from "../processes.ts";
import { repoRoot } from "./paths.ts";

/** The Worker's one configuration: what deploys, and what every local Worker is generated from. */
export const wranglerConfig = `${repoRoot}wrangler.toml`;
const wranglerBin = `${repoRoot}node_modules/wrangler/bin/wrangler.js`;
// No network here for the `cf` object or telemetry; miniflare uses a placeholder.
const wranglerEnv = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" };
const mainLine = /^main = "(.+)"$/m;

export interface WorkerConfigOptions {
  /** Entry module in place of wrangler.toml's `main` (the test Worker: testing/worker/index.ts). */
  main?: string;
  /** Further edits of the text (a benchmark raises rate limits); the result must still be wrangler.toml's shape. */
  configure?: (toml: string) => string;
  /**
   * The folder of web app files the Worker serves (Workers Static Assets), instead of
   * wrangler.toml's `web/dist`. The browser tests pass a build of their own, so that no build
   * lands in a folder another running stack watches (wrangler dev reloads when its assets change).
   */
  assets?: string;
}

/** wrangler.toml's `[assets] directory`: the web app as `npm run build` leaves it. */
export const webDist = `${repoRoot}web/dist`;
const assetsDirectoryLine = /^directory = "(.+)"$/gm;

/**
 * Writes `dir/wrangler.toml`: wrangler.toml as it is now, with `main` and the assets folder made
 * absolute (or replaced by `options.main`, `options.assets`) and `options.configure` applied. Generated on every start, it cannot drift from
 * the real one: bindings, migrations, limits and vars are the ones that deploy.
 */
export function writeWorkerConfig(dir: string, options: WorkerConfigOptions = {}): string {
  const source = readFileSync(wranglerConfig, "utf8");
  const main = mainLine.exec(source)?.[1];
  if (!main || source.match(new RegExp(mainLine.source, "gm"))?.length !== 1) {
    throw new Error(`${wranglerConfig} must have exactly one top-level main = "…" line`);
  }
  const entry = options.main ?? resolve(repoRoot, main);
  const header = `# Generated from ${wranglerConfig} by scripts/lib/local-stack (main = ${entry}). Edit that file, not this one.\n`;
  // The assets folder, made absolute (the configuration is written elsewhere). wrangler refuses to
  // start when it is missing, as it is in a fresh clone before `npm run build`: an empty one serves
  // no app, and the API runs as before.
  const assets = options.assets ?? webDist;
  mkdirSync(assets, { recursive: true });
  const text = source
    .replace(mainLine, () => `main = ${JSON.stringify(entry)}`)
    .replace(assetsDirectoryLine, () => `directory = ${JSON.stringify(assets)}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, header + (options.configure ? options.configure(text) : text));
  return path;
}

/**
 * The Worker bundled as `wrangler deploy` would upload it (`--dry-run`, no Containers built), into
 * `outdir`; returns the entry module's path.
 *
 * @example
 * // What production deploys:
 * await bundleWorker({ config: wranglerConfig, env: "production", outdir: "/tmp/bundle" });
 */
export async function bundleWorker(options: { config: string; outdir: string; env?: string }): Promise<string> {
  // wrangler.toml's assets folder must exist (a fresh clone has none before `npm run build`).
  mkdirSync(webDist, { recursive: true });
  const args = ["deploy", "--dry-run", "--config", options.config, "--containers-rollout=none", "--outdir", options.outdir];
  if (options.env) args.push("--env", options.env);
  await promisify(execFile)(process.execPath, [wranglerBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...wranglerEnv },
    maxBuffer: 16 * 1024 * 1024,
  });
  return join(options.outdir, "index.js");
}

export interface WorkerOptions extends WorkerConfigOptions {
  port: number;
  /** `--var` bindings: the database, secrets, test settings. */
  vars: Record<string, string>;
  /** Where miniflare keeps KV, R2, Durable Object and queue data. */
  persistTo: string;
  /**
   * true (`npm start`): `wrangler dev` on the sources, rebuilt and restarted on every edit.
   * false (tests, benchmarks): on a bundle built once, because a restart drops what miniflare
   * holds in memory, queue messages included (a job waiting out its retry delay would be lost).
   */
  watch: boolean;
  /** Folder for the generated configuration and the bundle; required unless `watch` on wrangler.toml itself. */
  scratchDir?: string;
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
}

/**
 * `wrangler dev` with prefixed `[worker]` logs. With `watch` and no `main`/`configure`, on
 * wrangler.toml itself (so `.dev.vars` applies); otherwise on a configuration generated from it
 * into `scratchDir`, where no `.dev.vars` is read: every secret comes from `vars`.
 */
export async function startWorker(options: WorkerOptions): Promise<ChildProcess> {
  const generated = !options.watch || options.main !== undefined || options.configure !== undefined || options.assets !== undefined;
  if (!generated) mkdirSync(webDist, { recursive: true }); // see writeWorkerConfig
  if (generated && !options.scratchDir) throw new Error("startWorker: scratchDir is required for a generated configuration");
  const scratch = options.scratchDir ?? "";
  const config = generated ? writeWorkerConfig(scratch, options) : wranglerConfig;
  // `wrangler dev` has no flag to stop watching sources, but run with `--no-bundle` on a bundle it
  // watches only a file that nobody edits (and WRANGLER_CI_DISABLE_CONFIG_WATCHING stops it
  // reloading when the configuration changes).
  if (!options.watch) prefixedLogger("worker", "cyan")(`bundling ${options.main ?? "the Worker"} once (wrangler deploy --dry-run)…`);
  const bundle = options.watch ? undefined : await bundleWorker({ config, outdir: join(scratch, "bundle") });
  const varArgs = Object.entries(options.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  return spawnPrefixed(
    "worker",
    "cyan",
    process.execPath,
    [
      wranglerBin,
      "dev",
      ...(bundle ? [bundle, "--no-bundle"] : []),
      "--config",
      config,
      "--port",
      String(options.port),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      options.persistTo,
      "--show-interactive-dev-session=false",
      ...(options.logLevel ? ["--log-level", options.logLevel] : []),
      ...varArgs,
    ],
    {
      cwd: repoRoot,
      env: bundle ? { ...wranglerEnv, WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true" } : wranglerEnv,
      // wrangler stops workerd when it is stopped; the stack gone, it is stopped.
      parentDeathSignal: "TERM",
    },
  );
}
