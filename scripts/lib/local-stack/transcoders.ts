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
  /** The Node process; after a restart (`startTranscoder(port, { workDir })`) put the new one here, so the stack stops it. */
  process: ChildProcess;
}

/**
 * The Node transcoder on `port`, with prefixed logs (tests restart it after killing it). It
 * empties `workDir` when it starts (what a killed predecessor left), so two transcoders never share
 * one: without `workDir` it uses the machine-wide default, which any other transcoder on this
 * machine (another stack, another checkout's tests) would empty under it.
 */
export function startTranscoder(port: number, options: { workDir?: string; name?: string } = {}): ChildProcess {
  return spawnPrefixed(
    options.name ?? "transcoder",
    "yellow",
    process.execPath,
    ["--experimental-strip-types", "--no-warnings", transcoderEntry],
    { cwd: repoRoot, env: { PORT: String(port), ...(options.workDir ? { TRANSCODER_WORK_DIR: options.workDir } : {}) } },
  );
}

/**
 * `count` transcoders on consecutive ports from `firstPort` (`npm start`: 8788, 8789, …), or on
 * free ports, each with a work folder of its own below `workRoot`. Their log lines are
 * `[transcoder]` for one, `[transcoder-1]`, `[transcoder-2]`… for more.
 */
export async function startTranscoders(count: number, options: { firstPort?: number; workRoot: string }): Promise<Transcoder[]> {
  const transcoders: Transcoder[] = [];
  for (let i = 0; i < count; i++) {
    const port = options.firstPort === undefined ? await freePort() : options.firstPort + i;
    const name = count === 1 ? "transcoder" : `transcoder-${i + 1}`;
    const workDir = join(options.workRoot, name);
    transcoders.push({ port, url: `http://127.0.0.1:${port}`, workDir, process: startTranscoder(port, { workDir, name }) });
  }
  return transcoders;
}
