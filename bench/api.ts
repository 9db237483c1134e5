/**
 * `npm run bench:api`: HTTP load on the local stack (wrangler dev: workerd with miniflare's KV,
 * Durable Objects and rate limiters; Postgres behind the Neon driver's WebSocket proxy), three
 * scenarios side by side in one run:
 * 1. a trivial route (`/.well-known/jwks.json`): the runtime's own ceiling on this machine;
 * 2. `GET /v1/videos` warm from KV: auth, both rate limiters, the catalog version and the page from KV;
 * 3. the same request with the cache bypassed (`X-Reelstream-Cache: bypass`, honoured outside
 *    production only): the same code path reading Postgres.
 * The Worker runs on a bundle built once from a configuration the local-stack harness generates
 * from wrangler.toml, with the catalog rate limits raised so one benchmark account is not refused;
 * the limiters are still called on every request.
 * Postgres: BENCH_DATABASE_URL (a server whose data may be dropped), BENCH_DATABASE=pglite or
 * postgresql, else a throw-away cluster of the PostgreSQL installed on this machine (as CI's second
 * test pass uses), else the embedded PGlite (one session that serves every connection in turn:
 * slower, but the same code path).
 * The scenarios take turns over BENCH_ROUNDS rounds (default 3) and each row is the median round,
 * so a burst of other work on a shared machine skews one round rather than one scenario.
 * BENCH_SECONDS per scenario per round (default 5), BENCH_CONNECTIONS (default 32), BENCH_VIDEOS (default 500).
 */
import { existsSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import autocannon from "autocannon";
import { type NewVideo, videos } from "../schema/index.ts";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { databaseFromEnv, installedPostgresql, type LocalDatabase, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { CACHE_BYPASS_HEADER } from "../workers/platform/request-services.ts";
import { newVideoId } from "../workers/videos/index.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const catalogSize = Number(process.env.BENCH_VIDEOS ?? 500);
const genres = ["drama", "comedy", "thriller", "documentary", "sci-fi", "romance", "horror", "animation"];

/** The catalog limiters raised in the generated configuration (the harness writes it from wrangler.toml). */
function raiseCatalogLimits(toml: string): string {
  let limiters = 0;
  const text = toml.replace(
    /(name = "CATALOG_(?:USER|CLIENT)_LIMITER"\s+namespace_id = "\d+"\s+simple = \{ limit = )\d+/g,
    (_, head: string) => {
      limiters++;
      return `${head}1000000000`;
    },
  );
  if (limiters === 0) throw new Error("wrangler.toml has no CATALOG_*_LIMITER entries to raise");
  return text;
}

async function seedCatalog(database: LocalDatabase) {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
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
  // Miniflare keeps KV, Durable Objects and rate-limit counters in SQLite files: in memory (tmpfs) where
  // possible, as they are in production, so the benchmark does not measure this disk.
  const stack = await startLocalStack({
    database: databaseFromEnv("BENCH", installedPostgresql() ? "postgresql" : "pglite"),
    configure: raiseCatalogLimits,
    tempRoot: existsSync("/dev/shm") ? "/dev/shm" : undefined,
    transcoders: 0,
    // Request lines at thousands a second would measure the terminal, not the Worker.
    logLevel: "warn",
  });
  try {
    await seedCatalog(stack.database);
    const base = `http://127.0.0.1:${stack.port}`;

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
      `\n${rounds} rounds of ${seconds} s per scenario after a 2 s warm-up, ${connections} connections, ${catalogSize} ready videos, ${stack.database.source}\n`,
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
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
