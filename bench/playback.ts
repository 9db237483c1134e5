/**
 * `npm run bench:playback`: the playback hot paths through the real Worker (wrangler dev, miniflare
 * R2, Cache API and Durable Objects, PGlite behind the Neon driver).
 *
 * 1. Segment requests: first request of each segment (an edge-cache miss, read from R2) vs the
 *    same segments again (edge-cache hits). p50/p99 and the miss/hit ratio.
 * 2. Progress heartbeats: `BENCH_VIEWERS` viewers (each playing the title first, so it holds a
 *    screen lease) each sending `BENCH_HEARTBEATS` heartbeats, `BENCH_CONCURRENCY` in flight:
 *    throughput and p99 through auth, the catalog and the user's Durable Object (one call).
 * 3. SQLite rows each heartbeat wrote in its Durable Object (`rowsWritten`), and database writes per
 *    1000 heartbeats: the objects' counters after their alarms ran.
 * The play and progress limiters are raised in the generated configuration: the viewers here send
 * heartbeats as fast as they can, which the real limits (40 per 10 s per account) refuse.
 */

import { startLocalStack } from "../scripts/lib/local-stack/index.ts";

import { insertReadyVideo, randomVideoId, subscribedViewer } from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { raiseRateLimits, summarize } from "./lib.ts";

const segments = Number(process.env.BENCH_SEGMENTS ?? 100);
const segmentBytes = Number(process.env.BENCH_SEGMENT_BYTES ?? 1024 * 1024);
const viewers = Number(process.env.BENCH_VIEWERS ?? 10);
const heartbeatsPerViewer = Number(process.env.BENCH_HEARTBEATS ?? 100);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
// Short, so the bench sees its alarms; production's default is 120 s (README "Playback").
const flushSeconds = Number(process.env.BENCH_FLUSH_SECONDS ?? 5);

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
  // The test Worker: its test-only routes put the segments into R2 and read the flush counters.
  const stack = await startLocalStack({
    main: testWorkerEntry,
    configure: (toml) => raiseRateLimits(toml, ["PLAY_LIMITER", "PROGRESS_LIMITER"]),
    vars: { PROGRESS_FLUSH_SECONDS: String(flushSeconds) },
  });
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

    console.log(`\nHeartbeats: ${viewers} viewers × ${heartbeatsPerViewer}, ${concurrency} in flight (flush after ${flushSeconds} s)`);
    // One at a time: sign-up hashes a password (Argon2id, 19 MiB), which is not what is measured here.
    const audience: Awaited<ReturnType<typeof subscribedViewer>>[] = [];
    for (let i = 0; i < viewers; i++) {
      const member = await subscribedViewer(stack.url, "premium");
      const played = await fetch(`${stack.url}/v1/videos/${videoId}/play`, { headers: { Authorization: `Bearer ${member.accessToken}` } });
      if (played.status !== 200) throw new Error(`play: ${played.status}`);
      audience.push(member);
    }
    const jobs = audience.flatMap((member) => Array.from({ length: heartbeatsPerViewer }, (_, i) => ({ member, position: i * 5 })));
    const latencies: number[] = [];
    const started = performance.now();
    await pool(jobs, concurrency, async ({ member, position }) => {
      const result = await timed(`${stack.url}/v1/videos/${videoId}/progress`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${member.accessToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({ positionSeconds: position }),
      });
      if (result.status !== 204) throw new Error(`heartbeat: ${result.status}`);
      latencies.push(result.ms);
    });
    const seconds = (performance.now() - started) / 1000;
    row("heartbeat (PUT progress)", latencies);
    console.log(`throughput: ${(jobs.length / seconds).toFixed(0)} heartbeats/s`);

    // Wait for every object's alarm to flush, then read their counters.
    let flushes = 0;
    let dirty = 1;
    let heartbeats = 0;
    let rowsWritten = 0;
    const deadline = Date.now() + (flushSeconds + 30) * 1000;
    while (dirty > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const stats = await Promise.all(
        audience.map(
          async (member) =>
            (await (await fetch(`${stack.url}/internal/test/viewer-state/${member.user.id}`)).json()) as {
              flush: { flushes: number; dirtyRows: number; heartbeats: number; heartbeatRowsWritten: number };
            },
        ),
      );
      flushes = stats.reduce((sum, s) => sum + s.flush.flushes, 0);
      dirty = stats.reduce((sum, s) => sum + s.flush.dirtyRows, 0);
      heartbeats = stats.reduce((sum, s) => sum + s.flush.heartbeats, 0);
      rowsWritten = stats.reduce((sum, s) => sum + s.flush.heartbeatRowsWritten, 0);
    }
    if (dirty > 0) throw new Error(`${dirty} rows still unflushed`);
    // Counted by each object since it started; an object evicted in between would count from then.
    console.log(
      `SQLite rows written by heartbeats: ${rowsWritten} for ${heartbeats} counted = ${(rowsWritten / Math.max(1, heartbeats)).toFixed(2)} per heartbeat`,
    );
    // The lease is rewritten once it has run down by a quarter (STREAM_LEASE_SECONDS 45: every 11.25 s).
    const leaseSeconds = Number(stack.vars.STREAM_LEASE_SECONDS ?? 45);
    const everyNth = Math.ceil(leaseSeconds / 4 / 5);
    console.log(
      `steady state (one heartbeat every 5 s, STREAM_LEASE_SECONDS=${leaseSeconds}): the position every time, the lease on 1 heartbeat in ${everyNth}: ${(1 + 1 / everyNth).toFixed(2)} rows per heartbeat (before: 3, position + lease + flush_delay_ms)`,
    );
    console.log(
      `database writes: ${flushes} for ${jobs.length} heartbeats = ${((flushes / jobs.length) * 1000).toFixed(1)} per 1000 (target ≤ 50)`,
    );
    console.log(
      `steady state (one heartbeat every 5 s per viewer, PROGRESS_FLUSH_SECONDS=120): ${(1000 / (120 / 5)).toFixed(1)} writes per 1000 heartbeats`,
    );
  } finally {
    await stack.stop();
  }
}

await main();
