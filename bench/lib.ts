import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, createNodePool } from "../scripts/lib/database.ts";
import { generateMediaSigningKeys, generateSecret, generateSigningKeys } from "../scripts/lib/dev-keys.ts";
import { startEmbeddedPostgres } from "../scripts/lib/embedded-postgres.ts";
import { freePort, type RunningStack, type StackOptions, startStack, waitForHttp } from "../scripts/lib/stack.ts";
import { startWsProxy } from "../scripts/lib/ws-proxy.ts";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** A progress line that rewrites itself on a terminal and prints every step elsewhere. */
export function progress(label: string, done: number, total: number) {
  const line = `${label}: ${done}/${total}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}${done === total ? "\n" : ""}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 5)) === 0) console.log(line);
}

/**
 * A throw-away local stack for a benchmark: in-memory PGlite behind the proxy, migrations, and
 * `wrangler dev` on a free port with its own miniflare state, so a developer's data is untouched.
 */
export async function startBenchStack(
  vars: Record<string, string> = {},
  options: Pick<StackOptions, "assets"> = {},
): Promise<RunningStack & { databaseUrl: string; wsProxy: string }> {
  const pg = await startEmbeddedPostgres({});
  const proxy = await startWsProxy();
  const pool = createNodePool(pg.url, proxy.address);
  await applyMigrations(pool);
  await pool.end();
  const persistTo = mkdtempSync(join(tmpdir(), "reelstream-bench-"));
  const stack = await startStack({
    port: await freePort(),
    transcoderPort: await freePort(),
    database: { url: pg.url, wsProxy: proxy.address, source: "bench PGlite", stop: async () => {} },
    persistTo,
    watch: false,
    ...options,
    vars: {
      JWT_SIGNING_KEYS: await generateSigningKeys("bench"),
      MEDIA_SIGNING_KEYS: generateMediaSigningKeys("bench"),
      // The transcoder's storage grants; without it the queue consumer refuses every job. A
      // checkout that has run `npm start` has one in .dev.vars, a fresh one (or a worktree) not.
      INTERNAL_SIGNING_SECRET: generateSecret(),
      ...vars,
    },
  });
  if (!(await waitForHttp(`${stack.url}/health`, 120_000))) throw new Error("the bench Worker did not start");
  return {
    ...stack,
    databaseUrl: pg.url,
    wsProxy: proxy.address,
    async stop() {
      await stack.stop();
      await proxy.stop();
      await pg.stop();
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
}
