/**
 * `npm run bench:transcode`: on a generated 10 s 1080p30 source, in one run, one after another
 * (never at the same time: they would share the cores), over BENCH_ROUNDS rounds (default 3) that
 * each measure all three, every row being the median round:
 *
 * - (a) the pipeline end to end through the real local stack (wrangler dev on a bundle built once,
 *   queue, Postgres, the transcoding service's plan, chunk, audio and finalize tasks on one Node
 *   transcoder, ffmpeg; a 10 s source is one chunk): from the last tus PATCH's response to the
 *   moment the video became `ready`, as `GET /v1/admin/videos/{id}` reports it (`publishedAt`),
 *   polled every 2 s;
 * - (b) the bare single-command ffmpeg ladder on local files, with the transcoder's own arguments
 *   (`planLadder` + `buildTranscodeArgs`): the limit;
 * - (c) one ffmpeg run per rendition, sequentially, same encoder settings: what most platforms do
 *   (the audio and the interlace check ride with the first run, the previews with the last).
 *
 * Prints wall times, the ratios of the medians against the targets, and the peak RSS of the
 * transcoder's process tree (the Node process plus its ffmpeg/ffprobe children, sampled from /proc
 * every 250 ms). The same ffmpeg command varies by ±5% from one run to the next on this shared
 * machine, and runs 5–10% slower after the cores were idle for a while (after a 15 s pause the
 * pipeline took 7.2 s; right after other work, 6.4–6.7 s): as much as the margin a target leaves,
 * so one sample of each would grade the noise. Hence a warm-up run, the medians, and rounds that
 * each start one scenario further along (b c a, c a b, a b c), so that no scenario always follows
 * the same one. The local stack runs through every round, (b) and (c) included, so all three see
 * the same machine; an idle stack costs ffmpeg nothing measurable.
 *
 * Then (part `chunking`, `transcode-chunked.ts`) the CPU and the quality chunking costs against one
 * continuous encode, and (part `publish`, `transcode-publish.ts`) publish time against source
 * length with 1 and 2 instances, and (part `rollout`, `transcode-rollout.ts`) a rollout during a
 * publish against none. BENCH_PARTS picks parts (`pipeline,chunking,publish,rollout`).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { adminSession, createVideo, latestJobTasks, tusUpload, videoStatus } from "../scripts/lib/upload-client.ts";
import { buildTranscodeArgs } from "../transcoder/src/ffmpeg-command.ts";
import { resolveFfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { type LadderPlan, planLadder } from "../transcoder/src/ladder.ts";
import { planPoster, planStoryboard } from "../transcoder/src/previews.ts";
import { checkSource } from "../transcoder/src/quality-check.ts";
import { processTree, runTool, summarize, treeCpuSeconds } from "./lib.ts";
import { measureChunking, TARGET_CHUNKED_CPU, TARGET_SSIM_DELTA } from "./transcode-chunked.ts";
import { measurePublish, printPublish } from "./transcode-publish.ts";
import { measureRollout, printRollout } from "./transcode-rollout.ts";

const SOURCE = { width: 1920, height: 1080, fps: 30, seconds: 10 };
/** Part `rollout`'s master: 480p, so that two publishes fit in a few minutes on two cores. */
const ROLLOUT_SOURCE = { width: 854, height: 480, fps: 30 };
const PRESET = "veryfast";
const TARGET_PIPELINE_OVER_BARE = 1.15;
const TARGET_PER_RENDITION_OVER_PIPELINE = 1.3;
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/**
 * Which measurements to make: `pipeline` ((a), (b), (c)), `chunking` ((d), (e)), `publish`
 * (publish time against source length with 1 and 2 instances: the longest, about an hour on two
 * cores) and `rollout` (a rollout during a publish, a few minutes); all four by default.
 */
const parts = new Set((process.env.BENCH_PARTS ?? "pipeline,chunking,publish,rollout").split(",").map((part) => part.trim()));

const tools = resolveFfmpegTools();
const work = mkdtempSync(join(tmpdir(), "reelstream-bench-transcode-"));

function step(line: string) {
  console.log(`[bench] ${line}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Runs ffmpeg to the end; rejects on a non-zero exit with the last lines of its log. */
async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** VmRSS (kB) of each of `rootPids` and of every process below them, read from /proc. */
function treeRssKb(rootPids: readonly number[]): { total: number; processes: number } {
  let total = 0;
  let processes = 0;
  for (const pid of rootPids.flatMap((root) => [...processTree(root).keys()])) {
    try {
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (rss) {
        total += Number(rss[1]);
        processes++;
      }
    } catch {
      // exited meanwhile
    }
  }
  return { total, processes };
}

/**
 * Samples the tree's RSS every 250 ms until stopped; returns the peak and the idle baseline. Each
 * sample walks /proc (about a millisecond of CPU, taken from the run it watches); ffmpeg's RSS
 * holds its plateau for seconds, so a finer grain finds no higher peak.
 */
function sampleRss(rootPids: readonly number[]) {
  const baseline = treeRssKb(rootPids).total;
  let peak = baseline;
  let peakProcesses = 1;
  const timer = setInterval(() => {
    const sample = treeRssKb(rootPids);
    if (sample.total > peak) {
      peak = sample.total;
      peakProcesses = sample.processes;
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return { baselineKb: baseline, peakKb: peak, peakProcesses };
    },
  };
}

/** A 1080p30 source with a 440 Hz tone, 8 Mbit/s, a keyframe every `gop` frames (x264's default: 250). */
async function makeSource(
  length = SOURCE.seconds,
  gop?: number,
  size: { width: number; height: number; fps: number } = SOURCE,
): Promise<string> {
  const { width, height, fps } = size;
  const path = join(work, `source-${height}p${fps}-${length}s.mp4`);
  await runTool(tools.ffmpeg, [
    ...["-hide_banner", "-v", "error", "-y"],
    ...["-f", "lavfi", "-i", `testsrc2=s=${width}x${height}:r=${fps}:d=${length}`],
    ...["-f", "lavfi", "-i", `sine=f=440:d=${length}`],
    ...["-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", ...(gop ? ["-g", String(gop)] : []), "-pix_fmt", "yuv420p"],
    ...["-c:a", "aac", "-b:a", "128k", path],
  ]);
  return path;
}

/**
 * The plan the transcoder would make for this source, from the same checks and planners: it plans
 * from the checks before decoding and lets the ladder run's idet branch stand in for the decode.
 */
async function planFor(sourcePath: string) {
  const checked = await checkSource(tools, sourcePath);
  if (!checked.ok) throw new Error(`the source was refused: ${checked.check.report.refusal}`);
  const { summary: source, video, probe } = checked.source;
  const ladder = planLadder(source);
  const top = ladder.renditions.at(-1) as LadderPlan["renditions"][number];
  return {
    ladder,
    videoStreamIndex: video.index,
    audioStreamIndex: source.hasAudio ? (probe.audio?.index ?? null) : null,
    poster: planPoster(source.durationSeconds, top),
    storyboard: planStoryboard(source.durationSeconds, top),
    detectInterlace: video.rotation === 0,
  };
}

async function bareLadder(sourcePath: string, plan: Awaited<ReturnType<typeof planFor>>, round: number): Promise<number> {
  const outputDir = join(work, `bare-${round}`);
  mkdirSync(outputDir);
  const args = buildTranscodeArgs({ input: sourcePath, outputDir, preset: PRESET, ...plan });
  return timed(() => runTool(tools.ffmpeg, ["-hide_banner", "-nostats", "-y", ...args]));
}

/** One ffmpeg per rung, one after another; the audio rides with the first, the previews with the last. */
async function perRendition(sourcePath: string, plan: Awaited<ReturnType<typeof planFor>>, round: number): Promise<number> {
  const rungs = plan.ladder.renditions;
  let total = 0;
  for (const [index, rendition] of rungs.entries()) {
    const outputDir = join(work, `per-rendition-${round}-${rendition.name}`);
    mkdirSync(outputDir);
    const last = index === rungs.length - 1;
    const args = buildTranscodeArgs({
      input: sourcePath,
      outputDir,
      preset: PRESET,
      videoStreamIndex: plan.videoStreamIndex,
      audioStreamIndex: index === 0 ? plan.audioStreamIndex : null,
      ladder: { ...plan.ladder, renditions: [rendition], audio: index === 0 ? plan.ladder.audio : { type: "none" } },
      poster: last ? plan.poster : null,
      storyboard: last ? plan.storyboard : null,
      // The interlace check rides with the first run, like the audio: it is needed once.
      detectInterlace: index === 0 && plan.detectInterlace,
    });
    const ms = await timed(() => runTool(tools.ffmpeg, ["-hide_banner", "-nostats", "-y", ...args]));
    step(`  (c) ${rendition.name}: ${seconds(ms)}`);
    total += ms;
  }
  return total;
}

/**
 * How often (a) asks `GET /v1/admin/videos/{id}`. Each poll costs the Worker and PGlite about
 * 14 ms of CPU, taken from the pipeline it measures on two cores: every 100 ms, that was 1.1 s;
 * every 500 ms, still 0.2 s. The end of (a) is the ready row's `publishedAt`, not the poll that
 * saw it, so polling less often makes (a) neither longer nor shorter.
 */
const pollMs = 2000;

/**
 * The local stack, up for every round: (a) runs through it, (b) and (c) beside it. Two transcoder
 * instances, as `npm start` runs them: the chunk and the audio of a short title run side by side,
 * as they do in production when two instances are free. Both share this machine's two cores with
 * everything else, as (b) and (c) have them.
 */
async function startPipeline() {
  step("starting the local stack (PGlite, wrangler dev on a bundle built once, two transcoders)…");
  const stack = await startLocalStack({ transcoders: 2 });
  const transcoderPids = stack.transcoders.map((transcoder) => transcoder.process.pid as number);
  const workerPid = stack.worker.pid;
  try {
    if (transcoderPids.some((pid) => !pid) || !workerPid) throw new Error("the stack did not start");
    const token = adminSession(stack.url, stack.database, {
      email: `bench-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Bench",
    });
    await token();
    return { stack, token, transcoderPids, workerPid };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

async function pipeline({ stack, token, transcoderPids, workerPid }: Awaited<ReturnType<typeof startPipeline>>, sourcePath: string) {
  const transcodersCpu = () =>
    transcoderPids.map(treeCpuSeconds).reduce((sum, cpu) => ({ own: sum.own + cpu.own, children: sum.children + cpu.children }));
  const videoId = await createVideo(stack.url, await token(), {
    title: "Bench source",
    summary: "Generated.",
    genres: ["bench"],
    releaseYear: 2024,
  });
  const size = statSync(sourcePath).size;
  step(`(a) uploading ${(size / 1024 / 1024).toFixed(1)} MiB through tus…`);
  const rss = sampleRss(transcoderPids);
  try {
    await tusUpload(stack.url, await token(), videoId, sourcePath);
    const uploaded = performance.now();
    const uploadedAt = Date.now();
    const cpuAtStart = { transcoder: transcodersCpu(), worker: treeCpuSeconds(workerPid), bench: process.cpuUsage() };
    let lastLine = "";
    let readyAt: string | null = null;
    for (;;) {
      const status = await videoStatus(stack.url, await token(), videoId);
      readyAt = status.video.publishedAt;
      const line = `(a) ${status.state}${status.progress !== null ? ` ${Math.round(status.progress * 100)}%` : ""}`;
      if (line !== lastLine) {
        step(`${line} at ${seconds(performance.now() - uploaded)}`);
        lastLine = line;
      }
      if (status.state === "ready") break;
      if (status.state === "failed") throw new Error(`the pipeline failed: ${status.error}`);
      if (performance.now() - uploaded > 600_000) throw new Error("the pipeline took more than 10 minutes");
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    const seenMs = performance.now() - uploaded;
    // The same clock: PGlite runs in this process.
    const ms = Date.parse(readyAt ?? "") - uploadedAt;
    if (!(ms > 0 && ms <= seenMs + 50)) throw new Error(`the ready row's publishedAt (${readyAt}) does not fit the poll (${seenMs} ms)`);
    // Where the two cores went meanwhile: the transcoder (and ffmpeg), wrangler dev (workerd:
    // the queue consumer, storage requests, the polls), and this process (PGlite, the poller).
    const benchCpu = process.cpuUsage(cpuAtStart.bench);
    const transcoderCpu = transcodersCpu();
    const workerCpu = treeCpuSeconds(workerPid);
    const cpu = {
      transcoderNode: transcoderCpu.own - cpuAtStart.transcoder.own,
      ffmpeg: transcoderCpu.children - cpuAtStart.transcoder.children,
      worker: workerCpu.own + workerCpu.children - cpuAtStart.worker.own - cpuAtStart.worker.children,
      bench: (benchCpu.user + benchCpu.system) / 1e6,
    };
    // Where the time went: each task from its dispatch to its result, and the gaps between.
    const tasks = (await latestJobTasks(stack.database, videoId))
      .filter((task) => task.dispatchedAt && task.finishedAt)
      .sort((a, b) => (a.dispatchedAt as Date).getTime() - (b.dispatchedAt as Date).getTime())
      .map((task) => ({
        id: task.id,
        from: ((task.dispatchedAt as Date).getTime() - uploadedAt) / 1000,
        to: ((task.finishedAt as Date).getTime() - uploadedAt) / 1000,
      }));
    return { ms, seenMs, rss: rss.stop(), cpu, tasks };
  } finally {
    rss.stop();
  }
}

const scenarioNames = { a: "(a) the pipeline", b: "(b) bare single-command ladder", c: "(c) one ffmpeg run per rendition" };

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

async function main() {
  step(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB; ffmpeg ${tools.ffmpeg}, preset ${PRESET}`,
  );
  if (parts.has("pipeline")) await pipelineParts();
  if (parts.has("chunking")) await chunkingParts();
  if (parts.has("publish")) {
    const minutes = (process.env.BENCH_PUBLISH_MINUTES ?? "1,5,10").split(",").map(Number);
    printPublish(await measurePublish({ makeSource: (length) => makeSource(length), minutes, instances: [1, 2], step }));
  }
  if (parts.has("rollout")) printRollout(await measureRollout({ makeSource: (length) => makeSource(length, 30, ROLLOUT_SOURCE), step }));
}

/** (a), (b) and (c): the one-shot pipeline against the bare command and one run per rendition. */
async function pipelineParts() {
  step(`generating a ${SOURCE.seconds} s ${SOURCE.height}p${SOURCE.fps} source (testsrc2 + sine)…`);
  const sourcePath = await makeSource();
  const plan = await planFor(sourcePath);
  step(`ladder: ${plan.ladder.renditions.map((r) => `${r.name}@${Math.round(r.videoBitrate / 1000)}k`).join(" ")}`);

  const pipelineStack = await startPipeline();
  const samples: { bare: number; perRung: number; piped: Awaited<ReturnType<typeof pipeline>> }[] = [];
  try {
    // The first heavy run after a pause is the slowest: one bare ladder warms the machine up.
    step(`warm-up (not counted): (b) once, ${seconds(await bareLadder(sourcePath, plan, 0))}`);
    for (let round = 1; round <= rounds; round++) {
      const sample: Partial<(typeof samples)[number]> = {};
      // Each round starts one scenario further along, so none always follows the same one.
      for (const scenario of rotate(["b", "c", "a"] as const, round - 1)) {
        step(`round ${round}/${rounds}: ${scenarioNames[scenario]}…`);
        let ms: number;
        if (scenario === "a") {
          sample.piped = await pipeline(pipelineStack, sourcePath);
          ms = sample.piped.ms;
        } else if (scenario === "b") {
          ms = sample.bare = await bareLadder(sourcePath, plan, round);
        } else {
          ms = sample.perRung = await perRendition(sourcePath, plan, round);
        }
        step(`(${scenario}) ${seconds(ms)}`);
      }
      samples.push(sample as (typeof samples)[number]);
    }
  } finally {
    await pipelineStack.stack.stop();
  }

  const bare = summarize(samples.map((sample) => sample.bare)).p50;
  const perRung = summarize(samples.map((sample) => sample.perRung)).p50;
  const pipedMs = summarize(samples.map((sample) => sample.piped.ms)).p50;
  // The CPU and the poll of the median (a) round; the RSS peak of all of them.
  const piped = samples.map((sample) => sample.piped).find((run) => run.ms === pipedMs) as Awaited<ReturnType<typeof pipeline>>;
  const peak = samples.map((sample) => sample.piped.rss).reduce((max, rss) => (rss.peakKb > max.peakKb ? rss : max));
  const rounded = (pick: (sample: (typeof samples)[number]) => number) => samples.map((sample) => seconds(pick(sample))).join(", ");

  const overBare = pipedMs / bare;
  const perRungOverPipeline = perRung / pipedMs;
  const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
  console.log("");
  console.log(
    `source: ${SOURCE.seconds} s ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps}, ${plan.ladder.renditions.length} renditions + audio + poster + storyboard; ` +
      `median of ${samples.length} round(s)`,
  );
  console.log(
    `(a) pipeline, upload finished -> ready   ${seconds(pipedMs).padStart(9)}  [${rounded((sample) => sample.piped.ms)}] ` +
      `(the ready row's publishedAt; a poll saw it at ${seconds(piped.seenMs)})`,
  );
  console.log(`(b) bare single-command ffmpeg ladder    ${seconds(bare).padStart(9)}  [${rounded((sample) => sample.bare)}]`);
  console.log(`(c) one ffmpeg run per rendition         ${seconds(perRung).padStart(9)}  [${rounded((sample) => sample.perRung)}]`);
  console.log(
    `(a) CPU meanwhile: ffmpeg/ffprobe ${piped.cpu.ffmpeg.toFixed(2)} s, transcoder (Node) ${piped.cpu.transcoderNode.toFixed(2)} s, wrangler dev ${piped.cpu.worker.toFixed(2)} s, ` +
      `bench process (PGlite, poller) ${piped.cpu.bench.toFixed(2)} s`,
  );
  console.log(
    `pipeline / bare           ${overBare.toFixed(2)}x  (target <= ${TARGET_PIPELINE_OVER_BARE})  ${overBare <= TARGET_PIPELINE_OVER_BARE ? "ok" : "MISSED"}`,
  );
  console.log(
    `per-rendition / pipeline  ${perRungOverPipeline.toFixed(2)}x  (target >= ${TARGET_PER_RENDITION_OVER_PIPELINE})  ${perRungOverPipeline >= TARGET_PER_RENDITION_OVER_PIPELINE ? "ok" : "MISSED"}`,
  );
  console.log(
    `(a) tasks, seconds after the last PATCH: ${piped.tasks.map((task) => `${task.id} ${task.from.toFixed(2)}–${task.to.toFixed(2)}`).join(", ")}`,
  );
  console.log(
    `transcoders' peak RSS     ${mib(peak.peakKb)} over ${peak.peakProcesses} process(es) (idle ${mib(peak.baselineKb)}, both); ` +
      "bounded by ffmpeg's frame buffers for the ladder's sizes (x264 lookahead per rendition), not by the file's length: " +
      "the source and outputs are streamed to and from disk",
  );
}

/** (d) and (e): the CPU and the quality that chunking costs, against one continuous encode. */
async function chunkingParts() {
  const length = Number(process.env.BENCH_CHUNK_SOURCE_SECONDS ?? 120);
  const chunkSeconds = Number(process.env.BENCH_CHUNK_SECONDS ?? 30);
  step(`generating a ${length} s ${SOURCE.height}p${SOURCE.fps} source, a keyframe every 2 s (testsrc2 + sine)…`);
  const sourcePath = await makeSource(length, 2 * SOURCE.fps);
  const chunking = await measureChunking({
    tools,
    work,
    sourcePath,
    chunkSeconds,
    preset: PRESET,
    rounds: Math.max(1, Math.min(rounds, 2)),
    step,
  });
  const ratio = chunking.cpuRatio;
  const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  console.log("");
  console.log(
    `source: ${length} s ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps} (${mib(chunking.masterBytes)}), ${chunking.ladder.renditions.length} renditions + audio + previews; ` +
      `${chunking.chunks} chunks of about ${chunkSeconds} s; preset ${PRESET}; median of ${chunking.rounds.length} round(s)`,
  );
  const list = (pick: (round: { continuous: number; chunked: number }) => number) =>
    chunking.rounds.map((round) => pick(round).toFixed(1)).join(", ");
  console.log(`(d) one continuous ladder run, ffmpeg CPU   ${chunking.continuousCpu.toFixed(1)} s  [${list((round) => round.continuous)}]`);
  console.log(`(e) chunked: plan + chunks + audio + finalize ${chunking.chunkedCpu.toFixed(1)} s  [${list((round) => round.chunked)}]`);
  console.log(
    `chunked / continuous CPU  ${ratio.toFixed(3)}x  (target <= ${TARGET_CHUNKED_CPU})  ${ratio <= TARGET_CHUNKED_CPU ? "ok" : "MISSED"}`,
  );
  for (const [name, ssim] of chunking.ssim) {
    const delta = ssim.chunked - ssim.continuous;
    console.log(
      `SSIM ${name.padEnd(5)} continuous ${ssim.continuous.toFixed(5)}  chunked ${ssim.chunked.toFixed(5)}  difference ${delta >= 0 ? "+" : ""}${delta.toFixed(5)}  ` +
        `(target within ${TARGET_SSIM_DELTA})  ${Math.abs(delta) <= TARGET_SSIM_DELTA ? "ok" : "MISSED"}`,
    );
  }
  console.log(
    `master read by the plan ${mib(chunking.planReadBytes)}, by each chunk ${chunking.chunkReadBytes.map(mib).join(", ")} (the master: ${mib(chunking.masterBytes)})`,
  );
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
