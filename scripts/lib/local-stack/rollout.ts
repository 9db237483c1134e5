import type { ChildProcess } from "node:child_process";
import { CONTAINER_ROLLOUT_GRACE_SECONDS } from "../../../workers/transcoding/contract.ts";
import { stopChild } from "../processes.ts";
import { restartTranscoder, type Transcoder } from "./transcoders.ts";

/**
 * The grace a local transcoder gets between SIGTERM and SIGKILL: what it was started with
 * (`TRANSCODER_GRACE_SECONDS`, which tests shorten), else production's (Cloudflare's 15 minutes).
 * The transcoder reads the same variable, so both sides of the local stack agree on it.
 */
export function transcoderGraceMs(transcoder: Pick<Transcoder, "options">): number {
  const seconds = Number(transcoder.options.env?.TRANSCODER_GRACE_SECONDS ?? CONTAINER_ROLLOUT_GRACE_SECONDS);
  return (seconds > 0 ? seconds : CONTAINER_ROLLOUT_GRACE_SECONDS) * 1000;
}

/** What the whole stack's `stop()` gives a transcoder: its task is stopped, not finished. */
const STOP_NOW_GRACE_MS = 10_000;

/**
 * Stops a transcoder.
 * - `"rollout"` (default), as Cloudflare stops a container instance: SIGTERM to its main process
 *   only (the container's PID 1; its ffmpeg must not get it, or the running encode dies before
 *   the transcoder can finish or hand it back), then SIGKILL to its whole process group (ffmpeg
 *   with it) if it is still there after its grace.
 * - `"now"`, when the whole platform goes down (`npm start` ended): SIGINT, on which the
 *   transcoder stops its task at once (the Worker that would take a hand-back is going too; the
 *   cron of the next start finds the attempt stalled), then SIGKILL after 10 s.
 */
export async function stopTranscoder(
  transcoder: Pick<Transcoder, "options" | "process">,
  mode: "rollout" | "now" = "rollout",
): Promise<void> {
  const { pid } = transcoder.process;
  await stopChild(
    transcoder.process,
    mode === "now"
      ? { graceMs: STOP_NOW_GRACE_MS, terminate: "process", signal: "SIGINT" }
      : { graceMs: transcoderGraceMs(transcoder), terminate: "process" },
  );
  try {
    // Whatever of its group outlived it (it waits for its ffmpeg, so normally nothing).
    if (pid) process.kill(-pid, "SIGKILL");
  } catch {
    // nothing left
  }
}

/**
 * One instance's share of a rollout, locally: the transcoder is stopped as above, and a new one
 * (the "new image") starts on its port and folder once the old one is gone. Resolves with the new
 * process and how long the old one took to go.
 */
export async function rollTranscoder(transcoder: Transcoder): Promise<{ process: ChildProcess; stoppedAfterMs: number }> {
  const started = Date.now();
  await stopTranscoder(transcoder);
  const stoppedAfterMs = Date.now() - started;
  return { process: restartTranscoder(transcoder), stoppedAfterMs };
}
