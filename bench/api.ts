/**
 * `npm run bench:api`: HTTP load on the local stack (wrangler dev: workerd with miniflare's KV,
 * Durable Objects and rate limiters; Postgres behind the Neon driver's WebSocket proxy), side by
 * side in one run:
 * 1. a trivial route (`/.well-known/jwks.json`): the runtime's own ceiling on this machine;
 * 2. `GET /v1/videos` warm from KV: the token (verified once per isolate), the per-account limiter,
 *    and one KV call for the catalog version, the page and the session's deny-list entry;
 * 3. the same request with the cache bypassed (`X-Reelstream-Cache: bypass`, honoured outside
 *    production only): the same code path reading Postgres;
 * 4. `GET /v1/home` warm, for a viewer with a continue-watching row (as most are), with the rows that
 *    recommend (trending, the country's top 10 and "because you watched", computed by the cron
 *    from generated views): one KV call for the shared rows, the version, the deny-list entry, the
 *    viewer's row, trending and top 10, one for the "because" row;
 * 5. the same, cache bypassed;
 * 6. scenario 2 with the rate limiter counted in the isolate's memory, as Cloudflare's binding does
 *    in production (the test Worker's `X-Test-Rate-Limiters: in-memory`): miniflare answers every
 *    `limit()` through a Durable Object, a round trip production does not make. 2 minus 6 is that cost;
 * 7. a trivial answer of the home page's size (the test Worker's `/internal/test/json-body/{bytes}`):
 *    every byte of an answer passes through wrangler dev's proxy, which production does not have.
 * Before measuring, one request of each warm scenario runs with its bindings counted and Postgres
 * unreachable (the test Worker's `X-Test-Binding-Calls: count`), and the counts are printed.
 * The Worker is the test Worker (the production app plus those two headers), on a bundle built once
 * from a configuration the local-stack harness generates from wrangler.toml, with the browse limit
 * raised so one benchmark account is not refused; the limiter is still called on every request.
 * Postgres: BENCH_DATABASE_URL (a server whose data may be dropped), BENCH_DATABASE=pglite or
 * postgresql, else a throw-away cluster of the PostgreSQL installed on this machine (as CI's second
 * test pass uses), else the embedded PGlite (one session that serves every connection in turn:
 * slower, but the same code path).
 * The scenarios take turns over BENCH_ROUNDS rounds (default 5, each starting one scenario further
 * along); each row is the median round, and each ratio is taken within rounds and the median
 * round's reported with the range, so a burst of other work on a shared machine skews one round
 * rather than one side of a ratio.
 * BENCH_SECONDS per scenario per round (default 4), BENCH_CONNECTIONS (default 32), BENCH_VIDEOS (default 500).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import autocannon from "autocannon";
import { eq } from "drizzle-orm";
import { type NewVideo, users, videos } from "../schema/index.ts";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { databaseFromEnv, installedPostgresql, type LocalDatabase, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { until } from "../scripts/lib/processes.ts";
import { BINDING_CALLS_HEADER, type BindingCalls, describeCalls, RATE_LIMITERS_HEADER } from "../testing/binding-calls.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { CACHE_BYPASS_HEADER } from "../workers/platform/cache.ts";
import { newVideoId } from "../workers/videos/index.ts";
import { raiseRateLimits } from "./lib.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const catalogSize = Number(process.env.BENCH_VIDEOS ?? 500);
const genres = ["drama", "comedy", "thriller", "documentary", "sci-fi", "romance", "horror", "animation"];

/** Signs up a fresh account (the password hash makes this slow: done a few times only). */
async function signUp(base: string, label: string): Promise<{ accessToken: string; user: { id: string } }> {
  const response = await fetch(`${base}/v1/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: `${label}-${crypto.randomUUID()}@example.com`, password: "correct horse battery staple", name: "Bench" }),
  });
  if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as { accessToken: string; user: { id: string } };
}

/**
 * One admin edit through the API, as a real catalog has had: it records a catalog version, the
 * stamp that cached pages (and this isolate's copies of them) are checked against. A catalog
 * seeded straight into Postgres has none yet.
 */
async function editOnce(base: string, database: LocalDatabase, videoId: string) {
  const admin = await signUp(base, "bench-admin");
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    await createNodeDb(pool).update(users).set({ role: "admin" }).where(eq(users.id, admin.user.id));
  } finally {
    await pool.end();
  }
  const response = await fetch(`${base}/v1/admin/videos/${videoId}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${admin.accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title: "Benchmark title 0 (edited)" }),
  });
  if (response.status !== 200) throw new Error(`admin edit failed: ${response.status} ${await response.text()}`);
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
    // Views for the rows that recommend: 200 viewers from the local stack's country (miniflare
    // says US), each with 8 of the 40 newest titles; the cron computes the rows from them.
    await pool.query(`insert into users (id, email, name, password_hash)
      select 'bench-viewer-' || n, 'bench-viewer-' || n || '@example.com', 'Bench viewer', 'unused' from generate_series(1, 200) n`);
    await pool.query(`insert into watch_progress (user_id, video_id, position_seconds, duration_seconds, finished, updated_at, country)
      select 'bench-viewer-' || n, v.id, 60, 1800, false, now() - make_interval(mins => n), 'US'
      from generate_series(1, 200) n
      cross join lateral (select id from videos order by published_at desc offset (n % 5) * 8 limit 8) v`);
    // Every kind due at the cron's next run, whatever it found before these views.
    await pool.query("delete from recommendation_runs");
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
  /** CPU milliseconds the Worker's processes and the local Postgres server spent per request. */
  cpuPerRequest: number;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
}

/**
 * CPU time (ms) used so far by the processes that serve a request: the Worker's (wrangler, and
 * workerd with miniflare's KV, Durable Objects and limiters) and the local Postgres server (whose
 * backends are forked per connection, so what exited is counted through the postmaster's reaped
 * children). From /proc (Linux); NaN elsewhere. Unlike throughput, CPU per request hardly moves
 * when other work shares the machine. The Neon proxy stand-in runs inside this process and is not
 * counted.
 */
function serverCpuMs(workerPid: number | undefined, databasePort: string): number {
  if (workerPid === undefined || !existsSync("/proc/self/stat")) return Number.NaN;
  const stats = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        // After the command (which may hold spaces, inside parentheses): state ppid … utime stime cutime cstime.
        const text = readFileSync(`/proc/${pid}/stat`, "utf8");
        const command = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
        const fields = text
          .slice(text.lastIndexOf(")") + 2)
          .split(" ")
          .map(Number);
        const ticks = (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0);
        return [{ pid: Number(pid), ppid: fields[1] ?? 0, command, ticks }];
      } catch {
        return [];
      }
    });
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const commandLine = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  };
  // The postmaster of this run's cluster (pg_ctl detaches it, so it is found by its port, not its parent).
  const postmasters = stats.filter((stat) => {
    if (stat.command !== "postgres" || byPid.get(stat.ppid)?.command === "postgres") return false;
    const args = commandLine(stat.pid);
    return args.some((arg, i) => arg === `-p ${databasePort}` || (arg === "-p" && args[i + 1] === databasePort));
  });
  const tree = new Set([workerPid, ...postmasters.map((stat) => stat.pid)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of stats) {
      if (tree.has(stat.ppid) && !tree.has(stat.pid)) {
        tree.add(stat.pid);
        grew = true;
      }
    }
  }
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (stats.filter((stat) => tree.has(stat.pid)).reduce((sum, stat) => sum + stat.ticks, 0) * 1000) / ticksPerSecond;
}

async function measure(
  base: string,
  scenario: Scenario,
  warmUp: boolean,
  servers: { workerPid?: number; databasePort: string },
): Promise<Measured> {
  const options = { url: `${base}${scenario.path}`, headers: scenario.headers, connections: scenario.connections };
  if (warmUp) await autocannon({ ...options, duration: 2 }); // JIT, pools, caches
  const cpuBefore = serverCpuMs(servers.workerPid, servers.databasePort);
  const result = await autocannon({ ...options, duration: seconds });
  const cpu = serverCpuMs(servers.workerPid, servers.databasePort) - cpuBefore;
  return {
    name: scenario.name,
    rps: result.requests.average,
    cpuPerRequest: cpu / Math.max(1, result.requests.total),
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
    main: testWorkerEntry,
    database: databaseFromEnv("BENCH", installedPostgresql() ? "postgresql" : "pglite"),
    configure: (toml) => raiseRateLimits(toml, ["CATALOG_USER_LIMITER"]),
    tempRoot: existsSync("/dev/shm") ? "/dev/shm" : undefined,
    transcoders: 0,
    // Request lines at thousands a second would measure the terminal, not the Worker.
    logLevel: "warn",
  });
  try {
    await seedCatalog(stack.database);
    const base = `http://127.0.0.1:${stack.port}`;

    const { accessToken } = await signUp(base, "bench");
    const auth = { Authorization: `Bearer ${accessToken}` };
    const check = await fetch(`${base}/v1/videos?limit=20`, { headers: auth });
    const page = (await check.json()) as { items: { id: string }[] };
    if (check.status !== 200 || page.items.length !== 20) throw new Error(`GET /v1/videos answered ${check.status}`);
    const editedAt = Date.now();
    await editOnce(base, stack.database, page.items[0]?.id ?? "");
    // A viewer who watched something: their home page has a continue-watching row.
    const heartbeat = async (videoId: string) => {
      const response = await fetch(`${base}/v1/videos/${videoId}/progress`, {
        method: "PUT",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({ positionSeconds: 60 }),
      });
      if (response.status !== 204) throw new Error(`PUT progress answered ${response.status}`);
    };
    const watched = page.items.slice(0, 3).map((item) => item.id);
    for (const id of [...watched].reverse()) await heartbeat(id);
    // The stack runs the cron every minute: wait for its rows (a real event, not a fixed time).
    // (Top 10 too when the local runtime gives requests a country: miniflare says US.)
    const wanted = ["continue-watching", "trending", "because:"];
    process.stdout.write("waiting for the cron to compute the rows that recommend…\n");
    const homeText = await until(
      "the rows that recommend on the bench viewer's home",
      async () => {
        const text = await (await fetch(`${base}/v1/home`, { headers: auth })).text();
        const ids = (JSON.parse(text) as { rows: { id: string }[] }).rows.map((row) => row.id);
        if (wanted.every((prefix) => ids.some((id) => id.startsWith(prefix)))) return text;
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return undefined;
      },
      300_000,
    );
    const homeBytes = new TextEncoder().encode(homeText).byteLength;
    const home = JSON.parse(homeText) as { rows: { id: string; items: unknown[] }[] };
    // A heartbeat rewrites the row's KV copy at most every 10 s and the object's flush catches up later: 1 to 3 titles here.
    if (home.rows[0]?.id !== "continue-watching") throw new Error("the bench viewer has no continue-watching row");
    console.log(`home rows: ${home.rows.map((row) => `${row.id} (${row.items.length})`).join(", ")}`);
    const countedCalls = async (path: string, headers: Record<string, string>) => {
      // The request before fills KV (and this isolate's copy), as any first reader does.
      await (await fetch(`${base}${path}`, { headers })).arrayBuffer();
      const counted = await fetch(`${base}${path}`, { headers: { ...headers, [BINDING_CALLS_HEADER]: "count" } });
      await counted.arrayBuffer();
      const calls = JSON.parse(counted.headers.get(BINDING_CALLS_HEADER) ?? "null") as BindingCalls | null;
      if (counted.status !== 200 || !calls) throw new Error(`${path}: ${counted.status} with the database unreachable`);
      console.log(`  ${path.padEnd(22)} ${describeCalls(calls)} · Postgres 0 (answered ${counted.status} with it unreachable)`);
      for (const read of calls.kv) console.log(`  ${"".padEnd(22)}   KV ${read.method}: ${read.keys.join(", ")}`);
    };
    console.log("\nBinding calls of one warm request (counted by the test Worker, Postgres unreachable):");
    console.log(
      "- within 2 minutes of a catalog change (the row's summaries are not stamped with a change that has not reached every location):",
    );
    await countedCalls("/v1/home", auth);
    // Steady state: the change has settled, and the viewer's next heartbeat restamps their row.
    const settleMs = Math.max(0, editedAt + 125_000 - Date.now());
    console.log(`(waiting ${(settleMs / 1000).toFixed(0)} s for the catalog change to settle, then one heartbeat)`);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    await heartbeat(watched[0] ?? "");
    console.log("- steady state:");
    await countedCalls("/v1/videos?limit=20", auth);
    await countedCalls("/v1/home", auth);

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
      { name: "GET /v1/home, warm KV", path: "/v1/home", headers: auth, connections },
      { name: "GET /v1/home, cache bypassed", path: "/v1/home", headers: { ...auth, [CACHE_BYPASS_HEADER]: "bypass" }, connections },
      {
        name: "GET /v1/videos, warm, limiter in memory",
        path: "/v1/videos?limit=20",
        headers: { ...auth, [RATE_LIMITERS_HEADER]: "in-memory" },
        connections,
      },
      {
        name: `trivial, a ${homeBytes}-byte answer (home's size)`,
        path: `/internal/test/json-body/${homeBytes}`,
        headers: {},
        connections,
      },
    ];

    // Each round runs every scenario once, starting one further along each time; ratios are taken
    // within a round (scenarios seconds apart), and the median round's ratio is reported, so that
    // other work on a shared machine moves whole rounds rather than one side of a ratio.
    const runs: Measured[][] = scenarios.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < scenarios.length; k++) {
        const i = (round + k) % scenarios.length;
        runs[i]?.push(
          await measure(base, scenarios[i] as Scenario, round === 0, {
            workerPid: stack.worker.pid,
            databasePort: new URL(stack.database.url).port,
          }),
        );
      }
      process.stdout.write(`round ${round + 1}/${rounds} done\n`);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    const results = runs.map((measured) => {
      const middle = [...measured].sort((a, b) => a.rps - b.rps)[Math.floor(measured.length / 2)] as Measured;
      return { ...middle, failures: measured.reduce((sum, run) => sum + run.failures, 0) };
    });
    console.log(
      `\n${"scenario (median round)".padEnd(42)} ${"req/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"CPU ms/req".padStart(11)} ${"failed".padStart(7)}`,
    );
    for (const [i, row] of results.entries()) {
      const cpu = median((runs[i] ?? []).map((run) => run.cpuPerRequest));
      console.log(
        `${row.name.padEnd(42)} ${row.rps.toFixed(0).padStart(9)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)} ${cpu.toFixed(2).padStart(11)} ${String(row.failures).padStart(7)}`,
      );
    }
    const [trivial, warm, uncached, warmHome, uncachedHome, warmLocal, trivialLarge] = runs as [
      Measured[],
      Measured[],
      Measured[],
      Measured[],
      Measured[],
      Measured[],
      Measured[],
    ];
    const ratio = (label: string, a: Measured[], b: Measured[], target: string) => {
      const perRound = a.map((run, round) => run.rps / (b[round]?.rps ?? Number.NaN));
      const range = `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`;
      // The same ratio from CPU per request (b's CPU over a's): what a machine that only ran this would see, CPU-bound.
      const byCpu = median(b.map((run) => run.cpuPerRequest)) / median(a.map((run) => run.cpuPerRequest));
      console.log(
        `${label.padEnd(56)} ${median(perRound).toFixed(2)}  (rounds ${range}; by CPU per request ${byCpu.toFixed(2)}; ${target})`,
      );
    };
    console.log("\nratios of throughput, median of the rounds:");
    ratio("warm /v1/videos / trivial route", warm, trivial, "target >= 0.5");
    ratio("warm /v1/videos / cache bypassed", warm, uncached, "target >= 3");
    ratio("warm /v1/home / trivial route", warmHome, trivial, "target >= 0.5");
    ratio("warm /v1/home / cache bypassed", warmHome, uncachedHome, "target >= 3");
    ratio("warm /v1/videos, limiter in memory / trivial route", warmLocal, trivial, "without miniflare's limiter round trip");
    ratio("warm /v1/videos, limiter in memory / through miniflare", warmLocal, warm, "what that round trip costs here");
    ratio("trivial with home's size / trivial route", trivialLarge, trivial, "what the answer's size alone costs here");
    ratio("warm /v1/home / trivial with home's size", warmHome, trivialLarge, "home's work beside its size");
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
