/**
 * `npm run bench:playback`: the playback hot paths through the real Worker (wrangler dev, miniflare
 * R2, Cache API, Durable Objects and Queues) against a throw-away PostgreSQL cluster.
 *
 * 1. Segment requests: first request of each segment (an edge-cache miss, read from R2) vs the
 *    same segments again (edge-cache hits). p50/p99 and the miss/hit ratio.
 * 2. Progress heartbeats and what they cost Postgres, before and after the queue, side by side:
 *    `BENCH_VIEWERS` viewers (each holding a screen lease) send rounds of 60 heartbeats each
 *    (production's 300 s flush at one heartbeat every 5 s), `BENCH_CONCURRENCY` in flight; after
 *    each round every object flushes at once (a test route runs its alarm). "after" runs
 *    `BENCH_ROUNDS` rounds, by default enough for 10,000 heartbeats (the target is per 10,000);
 *    "before" `BENCH_BEFORE_ROUNDS` (default 1: its cost grows with the heartbeats, one pool per flush). "before": every object writes its own rows to
 *    Postgres (a pool and a transaction per flush, the write-behind the queue replaced: the test
 *    Worker's direct mode); "after": the objects send one message each to the user-copies queue and
 *    the consumer writes a batch of up to 100 in one transaction. Connections and transactions are
 *    Postgres's own counters (`pg_stat_database.sessions`, `xact_commit`), per 10,000 heartbeats:
 *    the flushes' (counted from the flush to its acknowledgement) and the whole run's, attributed by
 *    phase: the heartbeats, their flushes (together the heartbeat path the ≤ 10 target judges), the
 *    refreshes, and the rest (the local stack's cron each minute, between phases).
 * 3. SQLite rows each heartbeat wrote in its Durable Object (`rowsWritten`).
 * The play and progress limiters are raised in the generated configuration: the viewers here send
 * heartbeats as fast as they can, which the real limits (40 per 10 s per account) refuse.
 */

import { createNodePool } from "../scripts/lib/database.ts";
import { installedPostgresql, startDatabase, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { insertReadyVideo, randomVideoId, subscribedViewer } from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { PROGRESS_FLUSH_SECONDS_DEFAULT } from "../workers/platform/config.ts";
import { progress, raiseRateLimits, summarize } from "./lib.ts";

const segments = Number(process.env.BENCH_SEGMENTS ?? 100);
const segmentBytes = Number(process.env.BENCH_SEGMENT_BYTES ?? 1024 * 1024);
const viewers = Number(process.env.BENCH_VIEWERS ?? 100);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** The player's heartbeat (web/src/player/player.tsx). */
const HEARTBEAT_SECONDS = 5;
/** Heartbeats a viewer's object gathers per flush in production: PROGRESS_FLUSH_SECONDS / one every 5 s. */
const HEARTBEATS_PER_FLUSH = PROGRESS_FLUSH_SECONDS_DEFAULT / HEARTBEAT_SECONDS;
/** Heartbeats per viewer between two refreshes of its access token (see the rounds below). */
const HEARTBEATS_PER_PART = 20;
/** Cloudflare Queues: 5,000 messages a second per queue (developers.cloudflare.com/queues/platform/limits/). */
const QUEUE_MESSAGES_PER_SECOND = 5000;
/** The consumer's batch (wrangler.toml `max_batch_size`): one transaction, one connection. */
const CONSUMER_BATCH = 100;

/** The arithmetic for a million concurrent viewers, at the flush interval before (120 s) and now. */
function printMillionViewers() {
  const concurrent = 1_000_000;
  console.log(
    `1,000,000 concurrent viewers, one heartbeat every ${HEARTBEAT_SECONDS} s, one queue (${QUEUE_MESSAGES_PER_SECOND} messages/s):`,
  );
  for (const [label, flushSeconds] of [
    ["before", 120],
    ["now", PROGRESS_FLUSH_SECONDS_DEFAULT],
  ] as const) {
    const messages = concurrent / flushSeconds;
    console.log(
      `  ${label.padEnd(6)} PROGRESS_FLUSH_SECONDS=${flushSeconds}: ${Math.round(messages).toLocaleString("en")} messages/s` +
        ` = ${((messages / QUEUE_MESSAGES_PER_SECOND) * 100).toFixed(0)} % of the queue's limit (${messages <= QUEUE_MESSAGES_PER_SECOND ? "within" : "OVER"});` +
        ` ${Math.round(messages / CONSUMER_BATCH).toLocaleString("en")} transactions and connections/s;` +
        ` ${flushSeconds / HEARTBEAT_SECONDS} heartbeats per message; Postgres's copy of progress up to ${flushSeconds} s behind`,
    );
  }
  console.log(`  the least flush interval one queue allows: ${Math.ceil(concurrent / QUEUE_MESSAGES_PER_SECOND)} s\n`);
}
/** The target is per 10,000 heartbeats: the batched path runs at least that many. */
const rounds = Number(process.env.BENCH_ROUNDS ?? Math.ceil(10_000 / (viewers * HEARTBEATS_PER_FLUSH)));
const beforeRounds = Number(process.env.BENCH_BEFORE_ROUNDS ?? 1);
// Longer than a round takes: the bench flushes every object at once after each round (production's default is PROGRESS_FLUSH_SECONDS_DEFAULT, 300 s).
const flushSeconds = 3600;

function row(label: string, samples: number[]) {
  const s = summarize(samples);
  console.log(
    `${label.padEnd(40)} p50 ${s.p50.toFixed(2).padStart(8)} ms   p99 ${s.p99.toFixed(2).padStart(8)} ms   mean ${s.mean.toFixed(2).padStart(8)} ms   (n=${s.n})`,
  );
  return s;
}

async function timed(url: string, init?: RequestInit): Promise<{ ms: number; status: number; cache: string | null }> {
  const start = performance.now();
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return { ms: performance.now() - start, status: response.status, cache: response.headers.get("X-Media-Cache") };
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function main() {
  printMillionViewers();
  // The test Worker: its test-only routes put the segments into R2 and read the flush counters.
  if (!installedPostgresql())
    throw new Error("bench:playback counts Postgres's connections: install PostgreSQL (apt-get install postgresql)");
  const database = await startDatabase({ kind: "postgresql" });
  const stack = await startLocalStack({
    main: testWorkerEntry,
    database,
    transcoders: 0,
    // No cron: its queries would count as the heartbeats'.
    cronSeconds: 0,
    configure: (toml) => raiseRateLimits(toml, ["PLAY_LIMITER", "PROGRESS_LIMITER"]),
    vars: { PROGRESS_FLUSH_SECONDS: String(flushSeconds) },
  });
  // One connection, opened before anything is counted: its own transactions are subtracted.
  const counters = createNodePool(database.url, database.wsProxy, { max: 1 });
  try {
    const videoId = randomVideoId();
    await insertReadyVideo(stack.database, videoId, {
      durationSeconds: 3600,
      renditions: [{ height: 720, bitrate: 3_000_000, codec: "avc1.64001f", playlist: "hls/720p/index.m3u8" }],
    });
    const master = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f"',
      "720p/index.m3u8",
      "",
    ].join("\n");
    const put = (path: string, body: Uint8Array | string) =>
      fetch(`${stack.url}/internal/test/media/${videoId}/${path}`, { method: "PUT", body }).then((r) => {
        if (r.status !== 204) throw new Error(`put ${path}: ${r.status}`);
      });
    await put("hls/master.m3u8", master);
    const bytes = new Uint8Array(segmentBytes).map((_, i) => (i * 7) & 255);
    const names = Array.from({ length: segments }, (_, i) => `hls/720p/seg_${String(i).padStart(5, "0")}.m4s`);
    await pool(names, 4, (name) => put(name, bytes));

    const viewer = await subscribedViewer(stack.url, "premium");
    const auth = { Authorization: `Bearer ${viewer.accessToken}` };
    const playback = (await (await fetch(`${stack.url}/v1/videos/${videoId}/play`, { headers: auth })).json()) as { manifestUrl: string };
    const base = `${stack.url}${new URL(playback.manifestUrl).pathname.replace(/hls\/master\.m3u8$/, "")}`;

    console.log(`\nSegments: ${segments} × ${(segmentBytes / 1024).toFixed(0)} KiB, one at a time`);
    const misses: number[] = [];
    const hits: number[] = [];
    for (const name of names) {
      const result = await timed(`${base}${name}`);
      if (result.status !== 200 || result.cache !== "MISS") throw new Error(`expected a miss: ${result.status} ${result.cache}`);
      misses.push(result.ms);
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // cache fills run after the responses
    for (const name of names) {
      const result = await timed(`${base}${name}`);
      if (result.status !== 200 || result.cache !== "HIT") throw new Error(`expected a hit: ${result.status} ${result.cache}`);
      hits.push(result.ms);
    }
    const miss = row("segment, edge-cache miss (R2)", misses);
    const hit = row("segment, edge-cache hit", hits);
    console.log(`miss/hit ratio: p50 ${(miss.p50 / hit.p50).toFixed(2)}×, mean ${(miss.mean / hit.mean).toFixed(2)}×`);

    console.log(
      `\nHeartbeats: ${viewers} viewers, rounds of ${HEARTBEATS_PER_FLUSH} each (before ${beforeRounds}, after ${rounds}), ${concurrency} in flight, then every object flushes at once`,
    );
    // Two at a time: sign-up hashes a password (Argon2id, 19 MiB), which is not what is measured here.
    const audience: Awaited<ReturnType<typeof subscribedViewer>>[] = [];
    await pool(
      Array.from({ length: viewers }, (_, i) => i),
      2,
      async () => {
        const member = await subscribedViewer(stack.url, "premium");
        const played = await fetch(`${stack.url}/v1/videos/${videoId}/play`, {
          headers: { Authorization: `Bearer ${member.accessToken}` },
        });
        if (played.status !== 200) throw new Error(`play: ${played.status}`);
        audience.push(member);
        progress("viewers signed up", audience.length, viewers);
      },
    );

    type Counted = { sessions: number; transactions: number };
    const zero = { connections: 0, transactions: 0 };
    let statReads = 0;
    /**
     * Postgres's counters, less this reader's own transactions (each read is one). Each backend
     * reports its counters when idle, at most every second (and within 10 s): read until two reads
     * agree, or 8 reads (said).
     */
    const readCounters = async (): Promise<Counted> => {
      let last = "";
      for (let read = 1; ; read++) {
        const { rows } = await counters.query<{ sessions: string; xact_commit: string; xact_rollback: string }>(
          "select sessions, xact_commit, xact_rollback from pg_stat_database where datname = current_database()",
        );
        const counted = {
          sessions: Number(rows[0]?.sessions),
          transactions: Number(rows[0]?.xact_commit) + Number(rows[0]?.xact_rollback) - statReads,
        };
        statReads++;
        const now = JSON.stringify(counted);
        if (now === last) return counted;
        if (read === 8) {
          console.log(`(Postgres's counters still moving after ${read} reads: taking ${now})`);
          return counted;
        }
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 2500));
      }
    };
    const viewerStats = () =>
      Promise.all(
        audience.map(
          async (member) =>
            (await (await fetch(`${stack.url}/internal/test/viewer-state/${member.user.id}`)).json()) as {
              flush: {
                messagesSent: number;
                dirtyRows: number;
                inFlightSince: number | null;
                heartbeats: number;
                heartbeatRowsWritten: number;
              };
            },
        ),
      );

    let position = 0;
    let sqliteSample: { heartbeats: number; rowsWritten: number } | undefined;
    const measure = async (mode: "before" | "after", rounds: number) => {
      await Promise.all(
        audience.map(async (member) => {
          const switched = await fetch(
            `${stack.url}/internal/test/viewer-state/${member.user.id}/direct-writes/${mode === "before" ? "on" : "off"}`,
            {
              method: "POST",
            },
          );
          if (switched.status !== 204) throw new Error(`direct-writes: ${switched.status}`);
        }),
      );
      const messagesBefore = (await viewerStats()).reduce((sum, s) => sum + s.flush.messagesSent, 0);
      const start = await readCounters();
      const latencies: number[] = [];
      let sent = 0;
      /**
       * Counted per phase of each round, so that what the heartbeat path costs (the heartbeats and
       * the flushes, each from its start to its acknowledgement) is told apart from the refreshes and
       * from what runs meanwhile (the local stack's cron each minute, the counters' own reads).
       */
      const phases = { refreshes: { ...zero }, heartbeats: { ...zero }, flushes: { ...zero } };
      const add = (phase: keyof typeof phases, from: Counted, to: Counted) => {
        phases[phase].connections += to.sessions - from.sessions;
        phases[phase].transactions += to.transactions - from.transactions;
      };
      for (let round = 0; round < rounds; round++) {
        // A round is one flush's worth of heartbeats, sent in parts small enough that the access
        // tokens (5 minutes at most) outlive each part on this machine: a fresh one before each, as a
        // player refreshes. The refreshes are counted apart from the heartbeats.
        for (let part = 0; part < HEARTBEATS_PER_FLUSH; part += HEARTBEATS_PER_PART) {
          const refreshStart = await readCounters();
          await pool(audience, concurrency, async (member) => {
            const refreshed = await fetch(`${stack.url}/v1/auth/refresh`, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ refreshToken: member.refreshToken }),
            });
            if (refreshed.status !== 200) throw new Error(`refresh: ${refreshed.status}`);
            Object.assign(member, (await refreshed.json()) as { accessToken: string; refreshToken: string });
          });
          const heartbeatStart = await readCounters();
          add("refreshes", refreshStart, heartbeatStart);
          const jobs = audience.flatMap((member) =>
            Array.from({ length: Math.min(HEARTBEATS_PER_PART, HEARTBEATS_PER_FLUSH - part) }, () => member),
          );
          position += 5;
          await pool(jobs, concurrency, async (member) => {
            const result = await timed(`${stack.url}/v1/videos/${videoId}/progress`, {
              method: "PUT",
              headers: { Authorization: `Bearer ${member.accessToken}`, "Content-Type": "application/json" },
              body: JSON.stringify({ positionSeconds: position++ % 3000 }),
            });
            if (result.status !== 204) throw new Error(`heartbeat: ${result.status}`);
            latencies.push(result.ms);
            progress(`${mode}: heartbeats`, ++sent, rounds * viewers * HEARTBEATS_PER_FLUSH);
          });
          add("heartbeats", heartbeatStart, await readCounters());
        }
        // The objects' heartbeat counters live in memory: read them while the objects that counted are still running.
        const counted = await viewerStats();
        sqliteSample ??= {
          heartbeats: counted.reduce((sum, s) => sum + s.flush.heartbeats, 0),
          rowsWritten: counted.reduce((sum, s) => sum + s.flush.heartbeatRowsWritten, 0),
        };
        const flushStart = await readCounters();
        // Every object flushes at once (as a million viewers' flushes arrive together: the queue's batches fill), and Postgres acknowledges it.
        await pool(audience, 16, async (member) => {
          const flushed = await fetch(`${stack.url}/internal/test/viewer-state/${member.user.id}/flush`, { method: "POST" });
          if (flushed.status !== 204) throw new Error(`flush: ${flushed.status}`);
        });
        const deadline = Date.now() + 120_000;
        for (;;) {
          const stats = await viewerStats();
          if (stats.every((s) => s.flush.dirtyRows === 0 && s.flush.inFlightSince === null)) break;
          if (Date.now() > deadline) throw new Error(`${mode}: rows still unacknowledged 120 s after the flush`);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        add("flushes", flushStart, await readCounters());
      }
      const end = await readCounters();
      const messages = (await viewerStats()).reduce((sum, s) => sum + s.flush.messagesSent, 0) - messagesBefore;
      return {
        latency: summarize(latencies),
        heartbeats: sent,
        flushes: messages,
        flushConnections: phases.flushes.connections,
        flushTransactions: phases.flushes.transactions,
        phases,
        connections: end.sessions - start.sessions,
        transactions: end.transactions - start.transactions,
      };
    };

    const before = await measure("before", beforeRounds);
    const after = await measure("after", rounds);
    const per10k = (n: number, heartbeats: number) => ((n / heartbeats) * 10_000).toFixed(1);
    for (const [label, m] of [
      ["before (a pool per object's flush)", before],
      ["after (queue, a batch per transaction)", after],
    ] as const) {
      console.log(
        `${label.padEnd(40)} ${m.heartbeats} heartbeats, ${m.flushes} flushes: ` +
          `the flushes ${m.flushConnections} connections, ${m.flushTransactions} transactions` +
          ` = ${per10k(m.flushConnections, m.heartbeats)} connections and ${per10k(m.flushTransactions, m.heartbeats)} transactions per 10,000 heartbeats;` +
          ` the whole run ${m.connections} connections, ${m.transactions} transactions = ${per10k(m.connections, m.heartbeats)} and ${per10k(m.transactions, m.heartbeats)} per 10,000` +
          `   (heartbeat p50 ${m.latency.p50.toFixed(2)} ms, p99 ${m.latency.p99.toFixed(2)} ms)`,
      );
    }
    const flushPer10k = (after.flushConnections / after.heartbeats) * 10_000;
    console.log(
      `flush connections per 10,000 heartbeats: before ${per10k(before.flushConnections, before.heartbeats)}, after ${flushPer10k.toFixed(1)}` +
        ` (${(((before.flushConnections / before.heartbeats) * 10_000) / Math.max(0.1, flushPer10k)).toFixed(1)}× fewer)`,
    );
    // The whole "after" run, attributed: the heartbeat path (heartbeats and their flushes) is what the target is about.
    const { phases } = after;
    const heartbeatPath = phases.heartbeats.connections + phases.flushes.connections;
    const elsewhere = after.connections - heartbeatPath - phases.refreshes.connections;
    const attributed: [string, number, number][] = [
      ["heartbeats (PUT …/progress)", phases.heartbeats.connections, phases.heartbeats.transactions],
      ["their flushes (queue → consumer)", phases.flushes.connections, phases.flushes.transactions],
      [`refreshes (one per viewer every ${HEARTBEATS_PER_PART} heartbeats)`, phases.refreshes.connections, phases.refreshes.transactions],
      [
        "the rest (between phases: the local stack's cron each minute, the counters' reads)",
        elsewhere,
        after.transactions - phases.heartbeats.transactions - phases.flushes.transactions - phases.refreshes.transactions,
      ],
    ];
    console.log(`after, ${after.heartbeats} heartbeats, Postgres connections (transactions) by where they went, per 10,000 heartbeats:`);
    for (const [label, connections, transactions] of attributed) {
      console.log(`  ${label.padEnd(84)} ${String(connections).padStart(4)} (${transactions}) = ${per10k(connections, after.heartbeats)}`);
    }
    const pathPer10k = (heartbeatPath / after.heartbeats) * 10_000;
    console.log(
      `heartbeat path (heartbeats + flushes): ${pathPer10k.toFixed(1)} connections per 10,000 heartbeats; target ≤ 10: ${pathPer10k <= 10 ? "met" : "NOT met"}` +
        `; the whole run: ${per10k(after.connections, after.heartbeats)}`,
    );

    const heartbeats = sqliteSample?.heartbeats ?? 0;
    const rowsWritten = sqliteSample?.rowsWritten ?? 0;
    // Counted by each object since it started; an object evicted in between would count from then.
    console.log(
      `\nSQLite rows written by heartbeats: ${rowsWritten} for ${heartbeats} counted = ${(rowsWritten / Math.max(1, heartbeats)).toFixed(2)} per heartbeat`,
    );
    // The lease is rewritten once it has run down by a quarter (STREAM_LEASE_SECONDS 45: every 11.25 s).
    const leaseSeconds = Number(stack.vars.STREAM_LEASE_SECONDS ?? 45);
    const everyNth = Math.ceil(leaseSeconds / 4 / 5);
    console.log(
      `steady state (one heartbeat every 5 s, STREAM_LEASE_SECONDS=${leaseSeconds}): the position every time, the lease on 1 heartbeat in ${everyNth}: ${(1 + 1 / everyNth).toFixed(2)} rows per heartbeat`,
    );
  } finally {
    await counters.end();
    await stack.stop();
    await database.stop();
  }
}

await main();
