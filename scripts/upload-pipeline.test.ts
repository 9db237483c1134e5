import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath, launchChromium, noBrowser } from "../testing/chromium.ts";
import { type HlsPage, type HlsPageGlobals, startHlsPage } from "../testing/hls-page.ts";
import { subscribedViewer } from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { buildTranscodeArgs } from "../transcoder/src/ffmpeg-command.ts";
import { runFfmpeg } from "../transcoder/src/ffmpeg-process.ts";
import { resolveFfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { planLadder } from "../transcoder/src/ladder.ts";
import { checkSource } from "../transcoder/src/quality-check.ts";
import {
  beepTimes,
  downloadOutputs,
  endOf,
  flashTimes,
  joinRendition,
  makeSyncMarkedSource,
  type Packet,
  packetsOf,
  referencedKeys,
} from "./lib/hls-outputs.ts";
import { databaseFromEnv, type LocalStack, startLocalStack } from "./lib/local-stack/index.ts";
import { adminSession, createVideo, latestJobTasks, tusUpload, waitForVideo } from "./lib/upload-client.ts";

const SECONDS = 50;
const FPS = 30;
const SYNC_MARKS = [2, 48];
/** Chunks of about 10 s: five for the 50 s master (the product default is 60 s). */
const CHUNK_SECONDS = 10;
/** The consumer's wall clock, set below the single-run encode time of the master (measured below). */
const WALL_CLOCK_SECONDS = 10;
/** Each local transcoder's scratch disk: less than the master (about 90 MiB), more than one chunk needs. */
const SCRATCH_BYTES = 48 * 1024 ** 2;
const PRESET = "ultrafast";

if (noBrowser) console.warn(`[e2e] ${chromiumPath} not found: the pipeline test skips its browser check (apt-get install chromium)`);

/**
 * The whole pipeline, as production runs it but on this machine: wrangler dev (miniflare's R2,
 * Queues, Durable Objects) on a bundle built once, two Node transcoders standing in for two
 * container instances, Postgres. A generated 1080p master with audio and sync marks goes up
 * through tus, is cut into five chunks that the two transcoders encode (each reading only its
 * range, under a scratch quota smaller than the master), is joined and published; then it is
 * checked as a viewer would notice: frames, timestamps, audio/video sync, nothing orphaned in R2,
 * and hls.js in Chromium seeking into every chunk. The consumer's wall clock is set below what one
 * continuous encode of this master takes, so a design that holds a consumer for the encode fails
 * here. x264 `ultrafast` keeps it to a few minutes on two cores; none of this depends on the preset.
 */
describe("a 1080p master published in chunks, end to end", () => {
  let stack: LocalStack;
  let token: string;
  let site: HlsPage;
  const work = mkdtempSync(join(tmpdir(), "reelstream-pipeline-"));
  const master = join(work, "feature.mp4");
  let videoId: string;
  let singleRunSeconds: number;

  beforeAll(async () => {
    [stack, site] = await Promise.all([
      startLocalStack({
        // The production app with the test Worker's routes, which read R2 back (downloadOutputs).
        main: testWorkerEntry,
        database: databaseFromEnv("TEST"),
        transcoders: 2,
        transcoderScratchBytes: SCRATCH_BYTES,
        transcoderEnv: { TRANSCODER_PRESET: PRESET },
        cronSeconds: 2,
        vars: {
          TRANSCODE_CHUNK_SECONDS: String(CHUNK_SECONDS),
          QUEUE_CONSUMER_WALL_CLOCK_SECONDS: String(WALL_CLOCK_SECONDS),
          // The embedded Postgres shares two cores with two encodes here: a query may take longer than production's 3 s.
          DATABASE_TIMEOUT_MS: "15000",
        },
      }),
      startHlsPage(),
      makeSyncMarkedSource(master, { seconds: SECONDS, fps: FPS, marks: SYNC_MARKS }),
    ]);
  }, 240_000);

  afterAll(async () => {
    site?.close();
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("takes longer to encode in one run than a consumer invocation may last, and is larger than a transcoder's disk", async () => {
    // The one-shot design's single ffmpeg run over this master, same ladder and preset, on its own.
    const tools = resolveFfmpegTools();
    const checked = await checkSource(tools, master);
    if (!checked.ok) throw new Error(String(checked.check.report.refusal));
    const ladder = planLadder(checked.source.summary);
    mkdirSync(join(work, "single-run"));
    const started = performance.now();
    const run = await runFfmpeg(
      tools.ffmpeg,
      buildTranscodeArgs({
        input: master,
        outputDir: join(work, "single-run"),
        videoStreamIndex: checked.source.video.index,
        audioStreamIndex: checked.source.probe.audio?.index ?? null,
        ladder,
        poster: null,
        storyboard: null,
        preset: PRESET,
      }),
      {},
    );
    expect(run.exitCode).toBe(0);
    singleRunSeconds = (performance.now() - started) / 1000;
    expect(singleRunSeconds).toBeGreaterThan(WALL_CLOCK_SECONDS);
    expect(statSync(master).size).toBeGreaterThan(SCRATCH_BYTES);
  }, 300_000);

  it("publishes it through tus → queue → chunks → ready, every task once, none held by a consumer", async () => {
    // The publish can outlast an access token (5 minutes) on a loaded machine: the poll signs in
    // again through the session's getter.
    const session = adminSession(stack.url, stack.database, {
      email: `pipeline-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Pipeline",
    });
    token = await session();
    videoId = await createVideo(stack.url, token, { title: "Feature", summary: "Generated.", genres: ["test"], releaseYear: 1974 });
    await tusUpload(stack.url, token, videoId, master);
    let chunksTotal = 0;
    const status = await waitForVideo(stack.url, session, videoId, {
      timeoutMs: 600_000,
      onChange: (seen) => {
        chunksTotal = Math.max(chunksTotal, seen.transcode?.chunksTotal ?? 0);
      },
    });
    expect(status.error).toBeNull();
    expect(status.state).toBe("ready");
    expect(chunksTotal).toBeGreaterThanOrEqual(5);
    expect(status.transcode).toEqual({ step: "done", chunksDone: chunksTotal, chunksTotal, attempt: 1, waitingForTranscoder: false });
    const tasks = await latestJobTasks(stack.database, videoId);
    expect(tasks.map((task) => task.kind).sort()).toEqual(["audio", "finalize", "plan", ...Array(chunksTotal).fill("chunk")].sort());
    // Each ran once, on one of the two instances.
    expect(tasks.every((task) => task.state === "done" && task.failures === 0)).toBe(true);
    expect(new Set(tasks.map((task) => task.instance)).size).toBe(2);
  }, 900_000);

  it("makes every rung last the source's duration with the same frames, no gap where chunks meet, audio in sync to the end", async () => {
    const { keys, storage } = await downloadOutputs(stack.url, { id: videoId, prefix: `videos/${videoId}/hls/` }, join(work, "r2"));
    // Exactly what the playlists lead to is stored: no tile, poster copy or leftover of an attempt.
    expect(keys).toEqual(await referencedKeys(storage, `videos/${videoId}/hls/`));
    const master = readFileSync(storage.pathFor(`videos/${videoId}/hls/master.m3u8`), "utf8");
    const rungs = master.split("\n").filter((line) => /^\d+p\/finalize-a1-index\.m3u8$/.test(line));
    expect(rungs.map((rung) => rung.split("/")[0])).toEqual(["240p", "360p", "480p", "720p", "1080p"]);
    for (const rung of rungs) {
      const playlist = readFileSync(storage.pathFor(`videos/${videoId}/hls/${rung}`), "utf8");
      expect(playlist).not.toContain("DISCONTINUITY");
      expect(playlist.match(/#EXT-X-MAP:/g)).toHaveLength(1);
      const video = await packetsOf(
        await joinRendition(storage, `videos/${videoId}/hls/${rung}`, join(work, `${rung.split("/")[0]}.mp4`)),
        "v:0",
      );
      expect(video.packets, rung).toHaveLength(SECONDS * FPS);
      const steps = new Set(video.packets.slice(1).map((packet, index) => packet.pts - (video.packets[index] as Packet).pts));
      expect(steps, `${rung}: steps between frames`).toEqual(new Set([video.timescale / FPS]));
      expect(Math.abs(endOf(video) - SECONDS), rung).toBeLessThanOrEqual(1 / FPS);
    }
    const audio = await joinRendition(storage, `videos/${videoId}/hls/audio/finalize-a1-index.m3u8`, join(work, "audio.mp4"));
    const [flashes, beeps] = await Promise.all([flashTimes(join(work, "240p.mp4")), beepTimes(audio)]);
    expect(flashes.map(Math.round)).toEqual(SYNC_MARKS);
    expect(beeps.map(Math.round)).toEqual(SYNC_MARKS);
    SYNC_MARKS.forEach((at, index) => {
      expect(Math.abs((flashes[index] as number) - (beeps[index] as number)), `drift at ${at} s`).toBeLessThan(0.04);
    });
  }, 300_000);

  it.skipIf(noBrowser)(
    "plays in Chromium with hls.js, seeking into every chunk, and playback advances from each seek",
    async () => {
      const tasks = await latestJobTasks(stack.database, videoId);
      const plan = tasks.find((task) => task.kind === "plan")?.result as { chunks: { startSeconds: number; endSeconds: number }[] };
      const targets = plan.chunks.map((chunk) => Math.round((chunk.startSeconds + 1) * 100) / 100);
      const viewer = await subscribedViewer(stack.url, "premium");
      const play = await fetch(`${stack.url}/v1/videos/${videoId}/play`, { headers: { Authorization: `Bearer ${viewer.accessToken}` } });
      expect(play.status).toBe(200);
      const manifestUrl = `${stack.url}${new URL(((await play.json()) as { manifestUrl: string }).manifestUrl).pathname}`;
      const browser = await launchChromium();
      try {
        const tab = await browser.newPage();
        await tab.goto(site.url);
        const result = await tab.evaluate(
          async ({ manifestUrl, targets }) => {
            const { Hls, document } = globalThis as unknown as HlsPageGlobals;
            const video = document.getElementById("video");
            const fatal: string[] = [];
            const hls = new Hls();
            hls.on(Hls.Events.ERROR, (_, data) => {
              if (data.fatal) fatal.push(`${data.type}: ${data.details}`);
            });
            const parsed = new Promise<void>((resolve) => hls.on(Hls.Events.MANIFEST_PARSED, () => resolve()));
            hls.loadSource(manifestUrl);
            hls.attachMedia(video as never);
            await parsed;
            await video.play();
            const seeks: { target: number; reached: number }[] = [];
            for (const target of targets) {
              video.currentTime = target;
              const started = Date.now();
              // Playback advances from the seek: a second past it, within 20 s.
              while (
                Date.now() - started < 20_000 &&
                fatal.length === 0 &&
                !(video.currentTime > target + 1 && video.currentTime < target + 8)
              ) {
                await new Promise((resolve) => setTimeout(resolve, 100));
              }
              seeks.push({ target, reached: video.currentTime });
            }
            return { fatal, seeks };
          },
          { manifestUrl, targets },
        );
        expect(result.fatal).toEqual([]);
        expect(result.seeks).toHaveLength(targets.length);
        for (const seek of result.seeks) {
          expect(seek.reached, `after seeking to ${seek.target} s`).toBeGreaterThan(seek.target + 1);
          expect(seek.reached).toBeLessThan(seek.target + 8);
        }
      } finally {
        await browser.close();
      }
    },
    300_000,
  );
});
