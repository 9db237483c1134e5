import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnPrefixed } from "../processes.ts";
import { repoRoot } from "./paths.ts";
import { freePort } from "./ports.ts";

const transcoderEntry = `${repoRoot}transcoder/src/server.ts`;

export interface Transcoder {
  port: number;
  /** Base URL (what the Worker's `TRANSCODER_URL` names). */
  url: string;
  /** Its own work folder: a transcoder empties its folder when it starts. */
  workDir: string;
  /** Its scratch quota, as it was started with (a restart should keep it). */
  scratchBytes?: number;
  /** The Node process; after a restart (`startTranscoder(port, { workDir })`) put the new one here, so the stack stops it. */
  process: ChildProcess;
  /** What it was started with: `restartTranscoder` starts it again so. */
  options: TranscoderOptions;
}

/**
 * Starts a transcoder again as it was started (its port, work folder, name, quota, CPUs), as
 * Cloudflare replaces a container instance that died; the new process is `transcoder.process`.
 */
export function restartTranscoder(transcoder: Transcoder): ChildProcess {
  transcoder.process = startTranscoder(transcoder.port, transcoder.options);
  return transcoder.process;
}

/**
 * The Node transcoder on `port`, with prefixed logs (tests restart it after killing it). It
 * empties `workDir` when it starts (what a killed predecessor left), so two transcoders never share
 * one: without `workDir` it uses the machine-wide default, which any other transcoder on this
 * machine (another stack, another checkout's tests) would empty under it.
 */
export function startTranscoder(port: number, options: TranscoderOptions = {}): ChildProcess {
  const node = [process.execPath, "--experimental-strip-types", "--no-warnings", transcoderEntry];
  // taskset execs node in its own process, so the pid is node's; ffmpeg inherits the CPU set and sizes its threads to it.
  const [command, ...args] = options.cpus ? ["taskset", "--cpu-list", options.cpus, ...node] : node;
  return spawnPrefixed(options.name ?? "transcoder", "yellow", command as string, args, {
    cwd: repoRoot,
    // The stack gone, the instance is gone: no drain (its ffmpeg dies with it, ffmpeg-process.ts).
    parentDeathSignal: "KILL",
    env: {
      PORT: String(port),
      ...(options.workDir ? { TRANSCODER_WORK_DIR: options.workDir } : {}),
      // The disk of the instance it stands in for: a task that would need more fails, as it would there.
      ...(options.scratchBytes !== undefined ? { TRANSCODER_SCRATCH_BYTES: String(options.scratchBytes) } : {}),
      ...options.env,
    },
  });
}

export interface TranscoderOptions {
  workDir?: string;
  name?: string;
  /** Its scratch-disk quota (`TRANSCODER_SCRATCH_BYTES`). */
  scratchBytes?: number;
  /** More environment (TRANSCODER_PRESET, …). */
  env?: Record<string, string>;
  /**
   * The CPUs it may run on (`taskset --cpu-list`, e.g. "0" or "0-1"): an instance's vCPU, so
   * that N transcoders on N cores stand in for N instances of one vCPU each. Default: all.
   */
  cpus?: string;
}

/**
 * `count` transcoders on consecutive ports from `firstPort` (`npm start`: 8788, 8789, …), or on
 * free ports, each with a work folder of its own below `workRoot`. Their log lines are
 * `[transcoder]` for one, `[transcoder-1]`, `[transcoder-2]`… for more. `cpus[i]` pins the i-th.
 */
export async function startTranscoders(
  count: number,
  options: { firstPort?: number; workRoot: string; cpus?: readonly string[] } & Pick<TranscoderOptions, "scratchBytes" | "env">,
): Promise<Transcoder[]> {
  const transcoders: Transcoder[] = [];
  for (let i = 0; i < count; i++) {
    const port = options.firstPort === undefined ? await freePort() : options.firstPort + i;
    const name = count === 1 ? "transcoder" : `transcoder-${i + 1}`;
    const workDir = join(options.workRoot, name);
    const started: TranscoderOptions = { workDir, name, scratchBytes: options.scratchBytes, env: options.env, cpus: options.cpus?.[i] };
    const process = startTranscoder(port, started);
    transcoders.push({ port, url: `http://127.0.0.1:${port}`, workDir, scratchBytes: options.scratchBytes, process, options: started });
  }
  return transcoders;
}
