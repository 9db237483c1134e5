/**
 * Publish time against source length, for `npm run bench:transcode` (part `publish`): a 1080p30
 * master of each length (default 1, 5 and 10 minutes; BENCH_PUBLISH_MINUTES) goes through the
 * real local stack (tus, the queue, the transcoding service dispatching chunk tasks, the Node
 * transcoders, ffmpeg) with 1 and with 2 transcoder instances, from the last tus PATCH's answer
 * to the ready row's `publishedAt`. Chunks are the production length (TRANSCODE_CHUNK_SECONDS,
 * 60 s).
 *
 * Each transcoder is pinned to a core of its own (`taskset`): an instance of one vCPU, so that
 * one instance has one core and two have two, as in production, where each instance brings its
 * own vCPU. (Unpinned, one transcoder would take both cores and the comparison would measure
 * nothing.) The Worker and the database are not pinned and share the cores. Both stacks stay up
 * through the run, and for each length the two runs follow each other, so that both see the same
 * machine; it is shared with other work, so the load average is printed with every row.
 *
 * Also printed per run: the ffmpeg CPU seconds the transcoders used, so the speed per core
 * (source seconds per CPU second) behind the production arithmetic in docs/transcoding.md.
 */
import { cpus, loadavg } from "node:os";
import { type LocalStack, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { adminSession, latestJobTasks, videoStatus } from "../scripts/lib/upload-client.ts";
import { summarize, treeCpuSeconds, uploadBenchTitle } from "./lib.ts";

export interface PublishOptions {
  /** A 1080p30 master of `seconds`, with audio (made once per length). */
  makeSource: (seconds: number) => Promise<string>;
  minutes: readonly number[];
  instances: readonly number[];
  step: (line: string) => void;
}

export interface PublishRow {
  minutes: number;
  instances: number;
  /** Upload finished → `publishedAt`. */
  ms: number;
  chunks: number;
  /** CPU seconds of every ffmpeg/ffprobe the transcoders ran meanwhile. */
  ffmpegCpu: number;
  /** Wall seconds of each kind of task (chunks: the median), dispatch to result. */
  tasks: { plan: number; chunk: number; audio: number | null; finalize: number };
  /** Seconds from each task's creation to its dispatch (waiting for its turn or a free instance), added up. */
  waitedSeconds: number;
  load: string;
}

const pollMs = 2000;

export async function measurePublish(options: PublishOptions): Promise<PublishRow[]> {
  const { step } = options;
  const stacks = new Map<number, { stack: LocalStack; token: () => Promise<string> }>();
  const rows: PublishRow[] = [];
  try {
    for (const count of options.instances) {
      step(`starting a local stack with ${count} transcoder instance(s), each pinned to one core…`);
      const stack = await startLocalStack({
        transcoders: count,
        transcoderCpus: Array.from({ length: count }, (_, index) => String(index % cpus().length)),
      });
      const account = {
        email: `bench-publish-${count}-${Date.now()}@example.com`,
        password: "correct horse battery staple",
        name: "Bench",
      };
      stacks.set(count, { stack, token: adminSession(stack.url, stack.database, account) });
    }
    for (const minutes of options.minutes) {
      step(`generating a ${minutes}-minute 1080p30 source…`);
      const source = await options.makeSource(minutes * 60);
      for (const count of options.instances) {
        const { stack, token } = stacks.get(count) as { stack: LocalStack; token: () => Promise<string> };
        rows.push(await publishOnce(stack, token, source, minutes, count, step));
      }
    }
  } finally {
    await Promise.all([...stacks.values()].map(({ stack }) => stack.stop()));
  }
  return rows;
}

async function publishOnce(
  stack: LocalStack,
  token: () => Promise<string>,
  source: string,
  minutes: number,
  count: number,
  step: (line: string) => void,
) {
  const label = `${minutes} min, ${count} instance(s)`;
  const videoId = await uploadBenchTitle(stack.url, token, label, source, step);
  const uploadedAt = Date.now();
  const cpu = () => stack.transcoders.reduce((sum, transcoder) => sum + treeCpuSeconds(transcoder.process.pid as number).children, 0);
  const cpuAtStart = cpu();
  const loadAtStart = loadavg()[0] ?? 0;
  let last = "";
  let publishedAt: string | null = null;
  for (;;) {
    const status = await videoStatus(stack.url, await token(), videoId);
    const transcode = status.transcode;
    const line = `${status.state}${transcode ? ` ${transcode.step} ${transcode.chunksDone}/${transcode.chunksTotal}${transcode.waitingForTranscoder ? " (waiting for a transcoder)" : ""}` : ""}`;
    if (line !== last) {
      step(`${label}: ${line} at ${((Date.now() - uploadedAt) / 1000).toFixed(0)} s`);
      last = line;
    }
    if (status.state === "ready") {
      publishedAt = status.video.publishedAt;
      break;
    }
    if (status.state === "failed") throw new Error(`${label}: the video failed: ${status.error}`);
    if (Date.now() - uploadedAt > 3 * 3600_000) throw new Error(`${label}: not ready after 3 hours`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const ffmpegCpu = cpu() - cpuAtStart;
  const ms = Date.parse(publishedAt ?? "") - uploadedAt;
  const tasks = await latestJobTasks(stack.database, videoId);
  const seconds = (kind: string) =>
    tasks
      .filter((task) => task.kind === kind && task.dispatchedAt && task.finishedAt)
      .map((task) => ((task.finishedAt as Date).getTime() - (task.dispatchedAt as Date).getTime()) / 1000);
  const row: PublishRow = {
    minutes,
    instances: count,
    ms,
    chunks: tasks.filter((task) => task.kind === "chunk").length,
    ffmpegCpu,
    tasks: {
      plan: seconds("plan")[0] ?? Number.NaN,
      chunk: summarize(seconds("chunk")).p50,
      audio: seconds("audio")[0] ?? null,
      finalize: seconds("finalize")[0] ?? Number.NaN,
    },
    waitedSeconds: tasks.reduce(
      (sum, task) => sum + (task.dispatchedAt ? Math.max(0, (task.dispatchedAt.getTime() - task.createdAt.getTime()) / 1000) : 0),
      0,
    ),
    load: `${loadAtStart.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
  };
  step(`${label}: ready in ${(ms / 1000).toFixed(1)} s, ${row.chunks} chunk(s), ffmpeg CPU ${ffmpegCpu.toFixed(0)} s`);
  return row;
}

/** The table `npm run bench:transcode` prints. */
export function printPublish(rows: readonly PublishRow[]): void {
  console.log("");
  console.log("publish time (upload finished -> ready), 1080p30 source with audio, veryfast, 60 s chunks, each instance one pinned core");
  console.log(
    "source  instances  chunks  publish     x realtime  plan   chunk (median)  audio  finalize  tasks waited  ffmpeg CPU  src s per CPU s  load (1 min)",
  );
  for (const row of rows) {
    const source = row.minutes * 60;
    console.log(
      [
        `${row.minutes} min`.padEnd(7),
        String(row.instances).padStart(9),
        String(row.chunks).padStart(7),
        `${(row.ms / 1000).toFixed(1)} s`.padStart(10),
        `${(source / (row.ms / 1000)).toFixed(2)}x`.padStart(11),
        `${row.tasks.plan.toFixed(1)} s`.padStart(7),
        `${row.tasks.chunk.toFixed(1)} s`.padStart(15),
        `${row.tasks.audio === null ? "-" : `${row.tasks.audio.toFixed(1)} s`}`.padStart(6),
        `${row.tasks.finalize.toFixed(1)} s`.padStart(9),
        `${row.waitedSeconds.toFixed(0)} s`.padStart(13),
        `${row.ffmpegCpu.toFixed(0)} s`.padStart(11),
        (source / row.ffmpegCpu).toFixed(3).padStart(16),
        row.load.padStart(13),
      ].join(" "),
    );
  }
  for (const minutes of new Set(rows.map((row) => row.minutes))) {
    const one = rows.find((row) => row.minutes === minutes && row.instances === 1);
    const two = rows.find((row) => row.minutes === minutes && row.instances === 2);
    if (one && two) console.log(`${minutes} min: 2 instances publish ${(one.ms / two.ms).toFixed(2)}x as fast as 1`);
  }
}
