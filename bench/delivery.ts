/**
 * `npm run bench:delivery`: what serving segments costs, before and after Workers Cache, side by
 * side in one run, through the real Worker (wrangler dev, miniflare R2, Cache API and Durable
 * Objects, the test Worker's counters: testing/worker/media-counters.ts).
 *
 * `BENCH_VIEWERS` viewers (10) watch one title together: for each segment in order, each viewer asks
 * for its video segment and its audio segment, one request at a time. The viewers sit in one data
 * center, then each in a data center of its own; each layout runs on both delivery paths, each run
 * on a title nobody asked for yet (cold caches):
 * - before, `cache-api`: R2 through the Cache API of the data center (`caches.default`);
 * - after, `workers-cache`: the `MediaOrigin` entrypoint behind Workers Cache, tiered.
 * Counted per 1,000 segment requests: Worker requests (billed), runs of the media origin (behind the
 * cache), R2 reads (Class B), Durable Object calls (the stream check), segments served from an edge
 * cache, and, after, the simulated Workers Cache's answers in total (each segment request asks it for
 * the master playlist too: the video's switch and the plan cap).
 *
 * miniflare has no Workers Cache and no data centers: both are simulated on its Cache API
 * (workers/platform/workers-cache-simulation.ts says how far), a request's data center is
 * `request.cf.colo`, set from a test header. Counts are exact; the times are this machine's.
 *
 * Then the same per viewer-minute, from the ladder's segment length before (4 s) and now
 * (`defaultLadderOptions.segmentSeconds`) and a heartbeat every `BENCH_HEARTBEAT_SECONDS` (5, the
 * web app's), and for 1M concurrent viewers at Cloudflare's published prices (docs/playback.md).
 */

import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { insertReadyVideo, randomVideoId, subscribedViewer } from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { defaultLadderOptions } from "../transcoder/src/ladder.ts";
import { progress, raiseRateLimits } from "./lib.ts";

const viewers = Number(process.env.BENCH_VIEWERS ?? 10);
const segments = Number(process.env.BENCH_SEGMENTS ?? 50);
const segmentBytes = Number(process.env.BENCH_SEGMENT_BYTES ?? 64 * 1024);
const heartbeatSeconds = Number(process.env.BENCH_HEARTBEAT_SECONDS ?? 5);
const concurrentViewers = 1_000_000;
/** The ladder's segment length before this change (transcoder/src/ladder.ts had 4). */
const SEGMENT_SECONDS_BEFORE = 4;

/**
 * Cloudflare's published prices (checked 2026-12-07 on developers.cloudflare.com: workers/platform/pricing,
 * r2/pricing): Workers Standard $0.30 per million requests beyond 10M a month; R2 Standard Class B
 * $0.36 per million beyond 10M a month. Included amounts are left out at this scale.
 */
const WORKER_REQUEST_USD = 0.3 / 1e6;
const R2_CLASS_B_USD = 0.36 / 1e6;
const SECONDS_PER_MONTH = 30 * 86_400;

type Path = "cache-api" | "workers-cache";

interface Counters {
  mediaRequests: number;
  originRuns: number;
  r2Reads: number;
  durableObjectCalls: number;
  workersCache: { lowerTierHits: number; upperTierHits: number; misses: number; bypasses: number };
}

interface Run {
  path: Path;
  layout: string;
  requests: number;
  counters: Counters;
  hits: number;
  seconds: number;
}

async function main() {
  const stack = await startLocalStack({
    main: testWorkerEntry,
    configure: (toml) => raiseRateLimits(toml, ["PLAY_LIMITER", "PROGRESS_LIMITER"]),
    // The viewers here send no heartbeats: their screen leases must outlast a run (at most 10 minutes).
    vars: { STREAM_LEASE_SECONDS: "600" },
    logLevel: "warn",
  });
  try {
    const test = (path: string, init?: RequestInit) => fetch(`${stack.url}/internal/test/${path}`, init);
    const putObject = async (videoId: string, path: string, body: Uint8Array | string) => {
      const response = await test(`media/${videoId}/${path}`, { method: "PUT", body });
      if (response.status !== 204) throw new Error(`put ${path}: ${response.status}`);
    };
    const segmentNames = Array.from({ length: segments }, (_, i) => `seg_${String(i).padStart(5, "0")}.m4s`);
    const mediaPlaylist = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      `#EXT-X-TARGETDURATION:${defaultLadderOptions.segmentSeconds}`,
      "#EXT-X-PLAYLIST-TYPE:VOD",
      '#EXT-X-MAP:URI="init.mp4"',
      ...segmentNames.flatMap((name) => [`#EXTINF:${defaultLadderOptions.segmentSeconds}.000000,`, name]),
      "#EXT-X-ENDLIST",
      "",
    ].join("\n");
    const master = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"',
      "720p/index.m3u8",
      "",
    ].join("\n");
    const bytes = new Uint8Array(segmentBytes).map((_, i) => (i * 7) & 255);

    /** A title nobody has asked for: its ladder in R2, its row in the catalog. */
    async function newTitle(): Promise<string> {
      const videoId = randomVideoId();
      await insertReadyVideo(stack.database, videoId, {
        durationSeconds: segments * defaultLadderOptions.segmentSeconds,
        renditions: [{ height: 720, bitrate: 3_000_000, codec: "avc1.64001f", playlist: "hls/720p/index.m3u8" }],
      });
      for (const folder of ["720p", "audio"]) {
        await putObject(videoId, `hls/${folder}/index.m3u8`, mediaPlaylist);
        for (const name of ["init.mp4", ...segmentNames]) await putObject(videoId, `hls/${folder}/${name}`, bytes);
      }
      await putObject(videoId, "hls/master.m3u8", master);
      return videoId;
    }

    async function run(path: Path, layout: "one data center" | "a data center each"): Promise<Run> {
      const videoId = await newTitle();
      // An audience per run: access tokens live 5 minutes at most (ACCESS_TOKEN_TTL_SECONDS), less than the whole bench.
      const audience: { accessToken: string }[] = [];
      for (let i = 0; i < viewers; i++) audience.push(await subscribedViewer(stack.url, "premium"));
      const places = audience.map((_, i) => (layout === "one data center" ? "AMS" : `DC${String(i).padStart(2, "0")}`));
      const bases: string[] = [];
      for (const viewer of audience) {
        const played = await fetch(`${stack.url}/v1/videos/${videoId}/play`, {
          headers: { Authorization: `Bearer ${viewer.accessToken}` },
        });
        if (played.status !== 200) throw new Error(`play: ${played.status} ${await played.text()}`);
        const { manifestUrl } = (await played.json()) as { manifestUrl: string };
        bases.push(`${stack.url}${new URL(manifestUrl).pathname.replace(/hls\/master\.m3u8$/, "")}`);
      }
      const headersOf = (viewer: number) => ({
        "X-Test-Media-Counters": "count",
        "X-Test-Data-Center": places[viewer] ?? "AMS",
        "X-Test-Media-Edge-Cache": path,
      });
      // What a player asks first: the master and both media playlists, and the init segments.
      for (const [viewer, base] of bases.entries()) {
        for (const file of ["hls/master.m3u8", "hls/720p/index.m3u8", "hls/audio/index.m3u8", "hls/720p/init.mp4", "hls/audio/init.mp4"]) {
          const response = await fetch(`${base}${file}`, { headers: headersOf(viewer) });
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`${file}: ${response.status}`);
        }
      }
      await test("media-counters", { method: "DELETE" });
      let requests = 0;
      let hits = 0;
      const total = segments * bases.length * 2;
      const started = performance.now();
      for (const name of segmentNames) {
        for (const [viewer, base] of bases.entries()) {
          for (const folder of ["720p", "audio"]) {
            const response = await fetch(`${base}hls/${folder}/${name}`, { headers: headersOf(viewer) });
            await response.arrayBuffer();
            if (response.status !== 200) throw new Error(`${folder}/${name}: ${response.status}`);
            if (response.headers.get("X-Media-Cache") === "HIT") hits++;
            requests++;
          }
        }
        progress(`  ${path}, ${layout}`, requests, total);
      }
      const seconds = (performance.now() - started) / 1000;
      const counters = (await (await test("media-counters")).json()) as Counters;
      return { path, layout, requests, counters, hits, seconds };
    }

    const runs: Run[] = [];
    for (const layout of ["one data center", "a data center each"] as const) {
      for (const path of ["cache-api", "workers-cache"] as const) runs.push(await run(path, layout));
    }

    const per1000 = (value: number, run: Run) => (value / run.requests) * 1000;
    console.log(
      `\n${viewers} viewers of one title, ${segments} segments × (video + audio), ${(segmentBytes / 1024).toFixed(0)} KiB each; per 1,000 segment requests:`,
    );
    console.log(
      `${"path".padEnd(15)}${"viewers in".padEnd(20)}${"Worker req".padStart(11)}${"origin runs".padStart(13)}${"R2 reads".padStart(10)}${"DO calls".padStart(10)}${"edge hits".padStart(11)}${"   Workers Cache: lower/upper hits, misses".padEnd(44)}${"req/s".padStart(7)}`,
    );
    for (const run of runs) {
      const c = run.counters;
      const tiers =
        run.path === "workers-cache"
          ? `${c.workersCache.lowerTierHits}/${c.workersCache.upperTierHits}, ${c.workersCache.misses}`
          : "(one cache per data center)";
      console.log(
        `${run.path.padEnd(15)}${run.layout.padEnd(20)}${per1000(c.mediaRequests, run).toFixed(0).padStart(11)}${per1000(c.originRuns, run).toFixed(0).padStart(13)}${per1000(c.r2Reads, run).toFixed(0).padStart(10)}${per1000(c.durableObjectCalls, run).toFixed(0).padStart(10)}${per1000(run.hits, run).toFixed(0).padStart(11)}   ${tiers.padEnd(41)}${(run.requests / run.seconds).toFixed(0).padStart(7)}`,
      );
    }
    for (const layout of ["one data center", "a data center each"]) {
      const before = runs.find((run) => run.layout === layout && run.path === "cache-api");
      const after = runs.find((run) => run.layout === layout && run.path === "workers-cache");
      if (!before || !after) continue;
      const ratio = per1000(after.counters.r2Reads, after) / Math.max(1e-9, per1000(before.counters.r2Reads, before));
      console.log(`R2 reads, after/before, viewers in ${layout}: ${ratio.toFixed(2)}×`);
    }

    // Per viewer-minute: video and audio each bring one segment request per segment length.
    const heartbeatsPerMinute = 60 / heartbeatSeconds;
    console.log(`\nPer viewer-minute: video and audio segments, and a progress heartbeat every ${heartbeatSeconds} s:`);
    for (const [label, seconds] of [
      ["before", SEGMENT_SECONDS_BEFORE],
      ["after", defaultLadderOptions.segmentSeconds],
    ] as const) {
      const segmentRequests = (2 * 60) / seconds;
      console.log(
        `${label.padEnd(7)} ${seconds} s segments: ${segmentRequests.toFixed(1)} segment requests + ${heartbeatsPerMinute.toFixed(1)} heartbeats = ${(segmentRequests + heartbeatsPerMinute).toFixed(1)} Worker requests`,
      );
    }
    printModel(heartbeatsPerMinute / 60);
  } finally {
    await stack.stop();
  }
}

/**
 * The same for 1M concurrent viewers, as arithmetic on stated assumptions (docs/playback.md). Titles:
 * `MODEL_TITLES` watched at once, viewers by Zipf (the t-th most watched has 1/t of the first's);
 * each title's viewers spread evenly over `MODEL_DATA_CENTERS` data centers and, for video, over
 * `MODEL_RUNGS` rungs (audio is one rendition). A cache misses a segment when nobody under it asked
 * for that segment within the title's length (an object unasked for that long is evicted): with n
 * viewers of the rendition under the cache, each asking for every segment once per title length,
 * that is e^-n. Before, each data center is its own cache; after, a miss goes on to an upper tier
 * that gathers the viewers of one of `upper` equal shares of the world (Cloudflare does not publish
 * how many upper tiers its generic topology has: two values are shown).
 */
function printModel(heartbeatsPerSecond: number) {
  const titles = Number(process.env.MODEL_TITLES ?? 5000);
  const dataCenters = Number(process.env.MODEL_DATA_CENTERS ?? 300);
  const rungs = Number(process.env.MODEL_RUNGS ?? 3);
  const harmonic = Array.from({ length: titles }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
  const viewersOf = (rank: number) => concurrentViewers / harmonic / rank;
  /** R2 reads per second when each cache gathers the viewers of `caches` equal shares of the world. */
  const r2ReadsPerSecond = (segmentSeconds: number, caches: number) => {
    let reads = 0;
    for (let rank = 1; rank <= titles; rank++) {
      const viewers = viewersOf(rank);
      reads += (viewers / segmentSeconds) * (Math.exp(-viewers / rungs / caches) + Math.exp(-viewers / caches));
    }
    return reads;
  };
  console.log(
    `\nModel: ${concurrentViewers.toLocaleString("en-US")} viewers, ${titles} titles (Zipf: the first has ${Math.round(viewersOf(1)).toLocaleString("en-US")}, the last ${Math.round(viewersOf(titles))}), ${dataCenters} data centers, ${rungs} rungs; per second and a month (30 days) at $0.30 per million Worker requests and $0.36 per million R2 Class B reads:`,
  );
  const rows = [
    { label: `before: ${SEGMENT_SECONDS_BEFORE} s segments, cache per data center`, seconds: SEGMENT_SECONDS_BEFORE, caches: dataCenters },
    ...[100, 30].map((upper) => ({
      label: `after: ${defaultLadderOptions.segmentSeconds} s segments, tiered, ${upper} upper tier${upper === 1 ? "" : "s"}`,
      seconds: defaultLadderOptions.segmentSeconds,
      caches: upper,
    })),
  ];
  for (const { label, seconds, caches } of rows) {
    const segmentRequests = (2 / seconds) * concurrentViewers;
    const workerRequests = segmentRequests + heartbeatsPerSecond * concurrentViewers;
    const reads = r2ReadsPerSecond(seconds, caches);
    const workerUsd = workerRequests * WORKER_REQUEST_USD * SECONDS_PER_MONTH;
    const r2Usd = reads * R2_CLASS_B_USD * SECONDS_PER_MONTH;
    const round = (n: number) => Math.round(n).toLocaleString("en-US");
    console.log(
      `${label.padEnd(50)} Worker requests ${round(workerRequests).padStart(9)}/s ($${round(workerUsd)})   R2 reads ${round(reads).padStart(7)}/s, ${((reads / segmentRequests) * 100).toFixed(1).padStart(4)}% of segment requests ($${round(r2Usd)})   total $${round(workerUsd + r2Usd)} a month`,
    );
  }
}

await main();
