/**
 * A rollout during a publish, for `npm run bench:transcode` (part `rollout`): the same master
 * published twice on one local stack of two transcoders (each pinned to a core, as in part
 * `publish`), once undisturbed and once with a rollout in the middle: one transcoder is SIGTERMed
 * while a chunk runs on it (after at least one chunk is done), stopped with the stack's grace
 * (`rollTranscoder`: SIGKILL after `TRANSCODER_GRACE_SECONDS`) and replaced by a new process on
 * the same port, as a rollout replaces an instance. Printed: both publish times and their ratio,
 * whether the interrupted chunk finished or was handed back, and how many chunks were encoded
 * twice beyond that one (read from the transcoders' own "started chunk" lines; it must be 0).
 *
 * A short master (BENCH_ROLLOUT_SECONDS, default 48 s of 480p30 in 8 s chunks: six chunks, a
 * publish of about a minute here) stands in for the issue's 5-minute one so that the part takes a
 * few minutes on two cores; the grace is shortened (BENCH_ROLLOUT_GRACE_SECONDS, default 8 s, the
 * same code path as production's 900 s) so that the interrupted chunk cannot finish within it.
 */
import type { ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { createInterface } from "node:readline";
import { rollTranscoder, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { adminSession, latestJobTasks, videoStatus } from "../scripts/lib/upload-client.ts";
import { uploadBenchTitle } from "./lib.ts";

export interface RolloutOptions {
  /** A master of `seconds` (made once). */
  makeSource: (seconds: number) => Promise<string>;
  step: (line: string) => void;
}

export interface RolloutRow {
  label: "no rollout" | "rollout";
  ms: number;
  chunks: number;
  /** The chunk the rolled instance was running, and how its run ended there. */
  interrupted: { id: string; outcome: "handed back" | "finished" } | null;
  /** How long the rolled instance took from SIGTERM to exit. */
  stoppedAfterMs: number | null;
  /** Chunk starts beyond one per chunk, not counting the interrupted chunk's second start. */
  encodedTwice: number;
  load: string;
}

const chunkSeconds = 8;
const pollMs = 1000;

export async function measureRollout(options: RolloutOptions): Promise<RolloutRow[]> {
  const { step } = options;
  const seconds = Number(process.env.BENCH_ROLLOUT_SECONDS ?? 48);
  const graceSeconds = Number(process.env.BENCH_ROLLOUT_GRACE_SECONDS ?? 8);
  step(`rollout: generating a ${seconds} s source…`);
  const source = await options.makeSource(seconds);
  step(`rollout: starting a local stack with 2 transcoders, each pinned to one core, grace ${graceSeconds} s…`);
  const stack = await startLocalStack({
    transcoders: 2,
    transcoderCpus: ["0", String(1 % cpus().length)],
    transcoderGraceSeconds: graceSeconds,
    transcoderEnv: { TRANSCODER_PROGRESS_SECONDS: "1" },
    vars: { TRANSCODE_CHUNK_SECONDS: String(chunkSeconds), TRANSCODE_CAPACITY_WAIT_SECONDS: "2" },
  });
  // Every chunk start any transcoder process logs, by video: `task=chunk-0003 attempt=2 video=… started chunk`.
  const starts = new Map<string, string[]>();
  const stopped = new Map<string, string>();
  const listen = (child: ChildProcess) => {
    if (!child.stdout) return;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const started = /task=(chunk-\d+) attempt=\d+ video=(\S+) .*started chunk/.exec(line);
      if (started) starts.set(started[2] as string, [...(starts.get(started[2] as string) ?? []), started[1] as string]);
      const handedBack = /task=(chunk-\d+) attempt=\d+ video=(\S+) .*stopped to hand it back/.exec(line);
      if (handedBack) stopped.set(handedBack[2] as string, handedBack[1] as string);
    });
  };
  for (const transcoder of stack.transcoders) listen(transcoder.process);
  const account = { email: `bench-rollout-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Bench" };
  const token = adminSession(stack.url, stack.database, account);
  const rows: RolloutRow[] = [];
  try {
    for (const label of ["no rollout", "rollout"] as const) {
      const videoId = await uploadBenchTitle(stack.url, token, label, source, step);
      const uploadedAt = Date.now();
      const loadAtStart = loadavg()[0] ?? 0;
      let rolled: Promise<{ id: string; stoppedAfterMs: number }> | null = null;
      let publishedAt: string | null = null;
      for (;;) {
        const status = await videoStatus(stack.url, await token(), videoId);
        if (status.state === "ready") {
          publishedAt = status.video.publishedAt;
          break;
        }
        if (status.state === "failed") throw new Error(`${label}: the video failed: ${status.error}`);
        if (Date.now() - uploadedAt > 30 * 60_000) throw new Error(`${label}: not ready after 30 minutes`);
        if (label === "rollout" && !rolled) {
          const tasks = await latestJobTasks(stack.database, videoId);
          const running = tasks.find((task) => task.kind === "chunk" && task.state === "running" && (task.progress ?? 0) < 0.3);
          const transcoder = stack.transcoders.find((candidate) => candidate.url === running?.instance);
          if (running && transcoder && tasks.some((task) => task.kind === "chunk" && task.state === "done")) {
            step(`${label}: SIGTERM to ${transcoder.url}, running ${running.id}, at ${((Date.now() - uploadedAt) / 1000).toFixed(0)} s`);
            rolled = rollTranscoder(transcoder).then(({ process, stoppedAfterMs }) => {
              listen(process);
              step(`${label}: ${transcoder.url} stopped after ${(stoppedAfterMs / 1000).toFixed(1)} s and was replaced`);
              return { id: running.id, stoppedAfterMs };
            });
          }
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      const ms = Date.parse(publishedAt ?? "") - uploadedAt;
      const roll = rolled ? await rolled : null;
      const started = starts.get(videoId) ?? [];
      const chunks = new Set(started).size;
      const handedBack = stopped.get(videoId);
      const interrupted = roll ? { id: roll.id, outcome: handedBack === roll.id ? ("handed back" as const) : ("finished" as const) } : null;
      const row: RolloutRow = {
        label,
        ms,
        chunks,
        interrupted,
        stoppedAfterMs: roll?.stoppedAfterMs ?? null,
        encodedTwice: started.length - chunks - (interrupted?.outcome === "handed back" ? 1 : 0),
        load: `${loadAtStart.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
      };
      step(`${label}: ready in ${(ms / 1000).toFixed(1)} s, ${chunks} chunk(s), ${started.length} chunk start(s)`);
      rows.push(row);
    }
  } finally {
    await stack.stop();
  }
  return rows;
}

/** The table `npm run bench:transcode` prints for part `rollout`. */
export function printRollout(rows: readonly RolloutRow[]): void {
  console.log("");
  console.log(`rollout during a publish (2 transcoders, each one pinned core; ${chunkSeconds} s chunks)`);
  console.log("run         publish    chunks  interrupted chunk         SIGTERM->exit  encoded twice beyond it  load (1 min)");
  for (const row of rows) {
    console.log(
      [
        row.label.padEnd(10),
        `${(row.ms / 1000).toFixed(1)} s`.padStart(8),
        String(row.chunks).padStart(7),
        (row.interrupted ? `${row.interrupted.id} ${row.interrupted.outcome}` : "-").padEnd(24),
        (row.stoppedAfterMs === null ? "-" : `${(row.stoppedAfterMs / 1000).toFixed(1)} s`).padStart(13),
        String(row.encodedTwice).padStart(23),
        row.load.padStart(13),
      ].join("  "),
    );
  }
  const [calm, rolled] = rows;
  if (calm && rolled) console.log(`publish with a rollout / without: ${(rolled.ms / calm.ms).toFixed(2)}x`);
}
