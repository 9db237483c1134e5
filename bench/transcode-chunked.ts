/**
 * The cost of chunking, for `npm run bench:transcode`: one source encoded twice at the same x264
 * settings, (d) as one continuous ffmpeg ladder run (the one-shot job's command on a local file)
 * and (e) as the chunked tasks do it (the plan, every chunk and the audio one after another, the
 * finalize task), reading the master over HTTP ranges from a local storage server. Compared:
 *
 * - CPU: the CPU time of every ffmpeg and ffprobe each run started (reaped children of this
 *   process, from /proc), target (e)/(d) <= 1.10. Wall time is not the measure here: on two cores
 *   the chunks run one after another, where production runs them on as many instances.
 * - quality: per rung, SSIM against the source scaled to the rung (every 5th frame), target
 *   |(e) - (d)| <= 0.005.
 *
 * Rounds alternate the order of the two runs; the figures are medians.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runChunkedJob } from "../scripts/lib/chunked-job.ts";
import { joinRendition } from "../scripts/lib/hls-outputs.ts";
import { startStorageServer } from "../scripts/lib/storage-server.ts";
import { buildTranscodeArgs } from "../transcoder/src/ffmpeg-command.ts";
import type { FfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { FsStorage } from "../transcoder/src/fs-storage.ts";
import { HttpStorage } from "../transcoder/src/http-storage.ts";
import type { LadderPlan } from "../transcoder/src/ladder.ts";
import { planLadder } from "../transcoder/src/ladder.ts";
import { planPoster, planStoryboard } from "../transcoder/src/previews.ts";
import { checkSource } from "../transcoder/src/quality-check.ts";
import { hlsPrefix, masterKey } from "../workers/platform/media-layout.ts";
import { summarize } from "./lib.ts";

/** The master every chunked round reads, at its place in the R2 layout. */
const BENCH_MASTER = masterKey("bench", "source");

export const TARGET_CHUNKED_CPU = 1.1;
export const TARGET_SSIM_DELTA = 0.005;

/** CPU seconds used by this process's reaped children so far (ffmpeg and ffprobe, once they exit). */
export function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // cutime and cstime, in clock ticks (100 a second).
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function run(command: string, args: string[], onStderr?: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => {
      onStderr?.(chunk.toString());
      tail = (tail + chunk.toString()).slice(-2000);
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${tail}`))));
  });
}

export interface ChunkingOptions {
  tools: FfmpegTools;
  work: string;
  sourcePath: string;
  chunkSeconds: number;
  preset: "veryfast";
  rounds: number;
  step: (line: string) => void;
}

interface Sample {
  continuousCpu: number;
  chunkedCpu: number;
  continuousMs: number;
  chunkedMs: number;
  /** Per rung name: SSIM of each run against the source. */
  ssim: Map<string, { continuous: number; chunked: number }>;
  chunks: number;
  planReadBytes: number;
  chunkReadBytes: number[];
}

export async function measureChunking(options: ChunkingOptions) {
  const { tools, work, sourcePath, step } = options;
  const checked = await checkSource(tools, sourcePath);
  if (!checked.ok) throw new Error(`the source was refused: ${checked.check.report.refusal}`);
  const { summary: source, video, probe } = checked.source;
  const ladder = planLadder(source);
  const top = ladder.renditions.at(-1) as LadderPlan["renditions"][number];
  const masterBytes = statSync(sourcePath).size;

  const continuous = async (round: number) => {
    const outputDir = join(work, `continuous-${round}`);
    mkdirSync(outputDir);
    const args = buildTranscodeArgs({
      input: sourcePath,
      outputDir,
      videoStreamIndex: video.index,
      audioStreamIndex: probe.audio?.index ?? null,
      ladder,
      poster: planPoster(source.durationSeconds, top),
      storyboard: planStoryboard(source.durationSeconds, top),
      preset: options.preset,
      detectInterlace: true,
    });
    const cpu = childrenCpuSeconds();
    const started = performance.now();
    await run(tools.ffmpeg, ["-hide_banner", "-nostats", "-y", ...args]);
    return { cpu: childrenCpuSeconds() - cpu, ms: performance.now() - started, outputs: new FsStorage(outputDir), prefix: "" };
  };

  const chunked = async (round: number) => {
    const bucket = new FsStorage(join(work, `chunked-${round}`));
    await bucket.upload(BENCH_MASTER, sourcePath);
    const server = await startStorageServer(bucket, { token: "bench" });
    const reads: { plan: number; chunks: number[] } = { plan: 0, chunks: [] };
    let before = 0;
    try {
      const cpu = childrenCpuSeconds();
      const started = performance.now();
      const job = await runChunkedJob(
        {
          videoId: "bench",
          sourceKey: BENCH_MASTER,
          chunkSeconds: options.chunkSeconds,
          onTask: () => {
            before = server.bytesRead.get(BENCH_MASTER) ?? 0;
          },
          afterTask: (task, ms) => {
            const read = (server.bytesRead.get(BENCH_MASTER) ?? 0) - before;
            if (task.kind === "plan") reads.plan = read;
            if (task.kind === "chunk") reads.chunks.push(read);
            step(`  (e) ${task.taskId}: ${(ms / 1000).toFixed(1)} s, read ${(read / 1024 ** 2).toFixed(1)} MiB of the master`);
          },
        },
        { storage: new HttpStorage(server.baseUrl, "bench"), tools, workRoot: join(work, `tasks-${round}`), preset: options.preset },
      );
      return { cpu: childrenCpuSeconds() - cpu, ms: performance.now() - started, outputs: bucket, prefix: hlsPrefix("bench"), job, reads };
    } finally {
      await server.close();
    }
  };

  /** SSIM of a rung against the source scaled to its size, over every 5th frame of both. */
  const ssimOf = async (outputs: FsStorage, playlistKey: string, rendition: LadderPlan["renditions"][number], label: string) => {
    const joined = await joinRendition(outputs, playlistKey, join(work, `${label}-${rendition.name}.mp4`));
    let all = Number.NaN;
    const every = "select='not(mod(n\\,5))',setpts=N/FRAME_RATE/TB";
    await run(
      tools.ffmpeg,
      [
        ...["-hide_banner", "-nostats", "-i", joined, "-i", sourcePath],
        ...[
          "-lavfi",
          `[0:v]${every}[d];[1:v]fps=${rendition.frameRate.num}/${rendition.frameRate.den},scale=${rendition.width}:${rendition.height},${every}[r];[d][r]ssim`,
        ],
        ...["-f", "null", "-"],
      ],
      (text) => {
        const match = /All:([\d.]+)/.exec(text);
        if (match) all = Number(match[1]);
      },
    );
    return all;
  };

  const samples: Sample[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? (["d", "e"] as const) : (["e", "d"] as const);
    let d: Awaited<ReturnType<typeof continuous>> | undefined;
    let e: Awaited<ReturnType<typeof chunked>> | undefined;
    for (const which of order) {
      step(`chunking round ${round}/${options.rounds}: ${which === "d" ? "(d) one continuous ladder run" : "(e) the chunked tasks"}…`);
      if (which === "d") d = await continuous(round);
      else e = await chunked(round);
      const result = which === "d" ? d : e;
      step(`(${which}) ${((result?.ms ?? 0) / 1000).toFixed(1)} s, ffmpeg CPU ${(result?.cpu ?? 0).toFixed(1)} s`);
    }
    if (!d || !e) throw new Error("a run is missing");
    const ssim = new Map<string, { continuous: number; chunked: number }>();
    // Quality once (it does not vary between rounds of the same encodes).
    if (round === 1) {
      for (const rendition of ladder.renditions) {
        const playlist = `${rendition.name}/index.m3u8`;
        ssim.set(rendition.name, {
          continuous: await ssimOf(d.outputs, playlist, rendition, "continuous"),
          chunked: await ssimOf(e.outputs, `${e.prefix}${playlist}`, rendition, "chunked"),
        });
      }
    }
    samples.push({
      continuousCpu: d.cpu,
      chunkedCpu: e.cpu,
      continuousMs: d.ms,
      chunkedMs: e.ms,
      ssim,
      chunks: e.job.plan.chunks.length,
      planReadBytes: e.reads.plan,
      chunkReadBytes: e.reads.chunks,
    });
  }

  const continuousCpu = summarize(samples.map((sample) => sample.continuousCpu)).p50;
  const chunkedCpu = summarize(samples.map((sample) => sample.chunkedCpu)).p50;
  const first = samples[0] as Sample;
  return {
    ladder,
    sourceSeconds: source.durationSeconds,
    masterBytes,
    chunks: first.chunks,
    continuousCpu,
    chunkedCpu,
    cpuRatio: chunkedCpu / continuousCpu,
    rounds: samples.map((sample) => ({ continuous: sample.continuousCpu, chunked: sample.chunkedCpu })),
    ssim: first.ssim,
    planReadBytes: first.planReadBytes,
    chunkReadBytes: first.chunkReadBytes,
  };
}
