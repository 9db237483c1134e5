/**
 * `npm run bench:api`: HTTP load on the local stack (wrangler dev: workerd with miniflare's KV,
 * Durable Objects and rate limiters; PGlite behind the Neon driver's WebSocket proxy), three
 * scenarios side by side in one run:
 * 1. a trivial route (`/.well-known/jwks.json`): the runtime's own ceiling on this machine;
 * 2. `GET /v1/videos` warm from KV: auth, both rate limiters, the catalog version and the page from KV;
 * 3. the same request with the cache bypassed (`X-Reelstream-Cache: bypass`, honoured outside
 *    production only): the same code path reading Postgres.
 * The Worker runs from a copy of wrangler.toml whose catalog rate limits are raised, so one
 * benchmark account is not refused; the limiters are still called on every request.
 * Postgres: BENCH_DATABASE_URL (a server whose data may be dropped), else a throw-away cluster of
 * the PostgreSQL installed on this machine (as CI does), else the embedded PGlite (one session that
 * serves every connection in turn: slower, but the same code path).
 * The scenarios take turns over BENCH_ROUNDS rounds (default 3) and each row is the median round,
 * so a burst of other work on a shared machine skews one round rather than one scenario.
 * BENCH_SECONDS per scenario per round (default 5), BENCH_CONNECTIONS (default 32), BENCH_VIDEOS (default 500).
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { type NewVideo, videos } from "../schema/index.ts";
import { applyMigrations, createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { generateMediaSigningKeys, generateSigningKeys } from "../scripts/lib/dev-keys.ts";
import { startEmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";
import { repoRoot, stateDir } from "../scripts/lib/local-stack.ts";
import { spawnPrefixed, stopChild, waitForHttp } from "../scripts/lib/processes.ts";
import { freePort } from "../scripts/lib/stack.ts";
import { startWsProxy } from "../scripts/lib/ws-proxy.ts";
import { CACHE_BYPASS_HEADER } from "../workers/platform/request-services.ts";
import { newVideoId } from "../workers/videos/documents.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const catalogSize = Number(process.env.BENCH_VIDEOS ?? 500);
const genres = ["drama", "comedy", "thriller", "documentary", "sci-fi", "romance", "horror", "animation"];

/** wrangler.toml with absolute paths and the catalog limiters raised, in the git-ignored state folder. */
function writeBenchConfig(): string {
  let limiters = 0;
  const text = readFileSync(`${repoRoot}wrangler.toml`, "utf8")
    .replace(/^main = "(.+)"$/m, (_, main: string) => `main = "${resolve(repoRoot, main)}"`)
    .replace(/(name = "CATALOG_(?:USER|CLIENT)_LIMITER"\s+namespace_id = "\d+"\s+simple = \{ limit = )\d+/g, (_, head: string) => {
      limiters++;
      return `${head}1000000000`;
    });
  if (limiters === 0) throw new Error("wrangler.toml has no CATALOG_*_LIMITER entries to raise");
  const folder = `${stateDir}/bench-api`;
  mkdirSync(folder, { recursive: true });
  writeFileSync(`${folder}/wrangler.toml`, text);
  return `${folder}/wrangler.toml`;
}

interface BenchDatabase {
  url: string;
  kind: string;
  stop(): Promise<void>;
}

/** A throw-away cluster of the machine's PostgreSQL (run as `postgres` when we are root, as initdb requires). */
async function startLocalPostgres(): Promise<BenchDatabase | undefined> {
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((version) => `/usr/lib/postgresql/${version}/bin`).find((dir) => existsSync(`${dir}/initdb`));
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "reelstream-bench-pg-"));
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres)
    chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  const run = (tool: string, args: string[]) =>
    execFileSync(asPostgres ? "runuser" : `${bin}/${tool}`, asPostgres ? ["-u", "postgres", "--", `${bin}/${tool}`, ...args] : args, {
      stdio: "ignore",
    });
  const port = await freePort();
  try {
    run("initdb", ["-D", `${dir}/data`, "--auth=trust", "-U", "postgres"]);
    run("pg_ctl", [
      "-D",
      `${dir}/data`,
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300`,
      "-l",
      `${dir}/log`,
      "-w",
      "start",
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    kind: `PostgreSQL ${bin.split("/").at(-2)} (throw-away local cluster)`,
    async stop() {
      run("pg_ctl", ["-D", `${dir}/data`, "-m", "fast", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startBenchDatabase(): Promise<BenchDatabase> {
  const external = process.env.BENCH_DATABASE_URL;
  if (external) return { url: external, kind: "BENCH_DATABASE_URL", stop: async () => {} };
  const local = await startLocalPostgres();
  if (local) return local;
  const pg = await startEmbeddedPostgres({});
  return { url: pg.url, kind: "embedded PGlite", stop: () => pg.stop() };
}

async function seedCatalog(url: string, wsProxy: string) {
  const pool = createNodePool(url, wsProxy);
  try {
    await pool.query("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS drizzle CASCADE; CREATE SCHEMA public;");
    await applyMigrations(pool);
    const now = Date.now();
    const rows: NewVideo[] = Array.from({ length: catalogSize }, (_, i) => ({
      id: newVideoId(),
      title: `Benchmark title ${i}`,
      summary: `A generated video for the API benchmark, number ${i}.`,
      genres: [genres[i % genres.length] ?? "drama", genres[(i * 3 + 1) % genres.length] ?? "comedy"],
      cast: ["Ada Brook", "Sam Reyes"],
      releaseYear: 1990 + (i % 35),
      durationSeconds: 1800 + i,
      renditions: [{ height: 1080, bitrate: 5_000_000, codec: "avc1.640028" }],
      posterKey: "poster.jpg",
      state: "ready",
      publishedAt: new Date(now - i * 60_000),
    }));
    await createNodeDb(pool).insert(videos).values(rows);
  } finally {
    await pool.end();
  }
}

interface Scenario {
  name: string;
  path: string;
  headers: Record<string, string>;
  connections: number;
}

interface Measured {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
}

async function measure(base: string, scenario: Scenario, warmUp: boolean): Promise<Measured> {
  const options = { url: `${base}${scenario.path}`, headers: scenario.headers, connections: scenario.connections };
  if (warmUp) await autocannon({ ...options, duration: 2 }); // JIT, pools, caches
  const result = await autocannon({ ...options, duration: seconds });
  return {
    name: scenario.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

async function main() {
  // Other work on the machine shares the cores with the Worker and the load generator: say how much.
  const startLoad = loadavg()[0]?.toFixed(2);
  const pg = await startBenchDatabase();
  const proxy = await startWsProxy();
  // Miniflare keeps KV, Durable Objects and rate-limit counters in SQLite files: in memory (tmpfs) where
  // possible, as they are in production, so the benchmark does not measure this disk.
  const persistTo = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "reelstream-bench-api-"));
  let worker: ReturnType<typeof spawnPrefixed> | undefined;
  try {
    await seedCatalog(pg.url, proxy.address);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const vars = {
      DATABASE_URL: pg.url,
      DATABASE_WS_PROXY: proxy.address,
      JWT_SIGNING_KEYS: await generateSigningKeys("bench"),
      MEDIA_SIGNING_KEYS: generateMediaSigningKeys("bench"),
    };
    worker = spawnPrefixed(
      "worker",
      "cyan",
      process.execPath,
      [
        `${repoRoot}node_modules/wrangler/bin/wrangler.js`,
        "dev",
        "--config",
        writeBenchConfig(),
        "--port",
        String(port),
        "--ip",
        "127.0.0.1",
        "--persist-to",
        persistTo,
        "--show-interactive-dev-session=false",
        // Request lines at thousands a second would measure the terminal, not the Worker.
        "--log-level",
        "warn",
        ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ],
      { cwd: repoRoot, env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" } },
    );
    if (!(await waitForHttp(`${base}/health`, 120_000))) throw new Error("the Worker did not start; see the [worker] lines above");

    const signup = await fetch(`${base}/v1/auth/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: `bench-${crypto.randomUUID()}@example.com`, password: "correct horse battery staple", name: "Bench" }),
    });
    if (signup.status !== 201) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);
    const { accessToken } = (await signup.json()) as { accessToken: string };
    const auth = { Authorization: `Bearer ${accessToken}` };
    const check = await fetch(`${base}/v1/videos?limit=20`, { headers: auth });
    const page = (await check.json()) as { items: unknown[] };
    if (check.status !== 200 || page.items.length !== 20) throw new Error(`GET /v1/videos answered ${check.status}`);

    console.log(
      `\n${rounds} rounds of ${seconds} s per scenario after a 2 s warm-up, ${connections} connections, ${catalogSize} ready videos, ${pg.kind}\n`,
    );
    const scenarios: Scenario[] = [
      { name: "trivial: GET /.well-known/jwks.json", path: "/.well-known/jwks.json", headers: {}, connections },
      { name: "GET /v1/videos?limit=20, warm KV", path: "/v1/videos?limit=20", headers: auth, connections },
      {
        name: "GET /v1/videos?limit=20, cache bypassed",
        path: "/v1/videos?limit=20",
        headers: { ...auth, [CACHE_BYPASS_HEADER]: "bypass" },
        connections,
      },
    ];
    const runs: Measured[][] = scenarios.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, scenario] of scenarios.entries()) runs[i]?.push(await measure(base, scenario, round === 0));
      process.stdout.write(`round ${round + 1}/${rounds} done\n`);
    }
    const results = runs.map((measured) => {
      const median = [...measured].sort((a, b) => a.rps - b.rps)[Math.floor(measured.length / 2)] as Measured;
      return { ...median, failures: measured.reduce((sum, run) => sum + run.failures, 0) };
    });

    const [trivial, warm, uncached] = results as [Measured, Measured, Measured];
    console.log(
      `\n${"scenario".padEnd(42)} ${"req/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"failed".padStart(7)}`,
    );
    for (const row of results) {
      console.log(
        `${row.name.padEnd(42)} ${row.rps.toFixed(0).padStart(9)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)} ${String(row.failures).padStart(7)}`,
      );
    }
    console.log(`\nwarm KV / trivial route: ${(warm.rps / trivial.rps).toFixed(2)}  (target >= 0.5)`);
    console.log(`warm KV / cache bypassed: ${(warm.rps / uncached.rps).toFixed(2)}  (target >= 3)`);
    const cpu = cpus();
    console.log(
      `machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}; load average at the start ${startLoad}`,
    );
    if (results.some((row) => row.failures > 0)) {
      console.error("some requests failed: the numbers above are not comparable");
      process.exitCode = 1;
    }
  } finally {
    if (worker) await stopChild(worker);
    await proxy.stop();
    await pg.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
