import type { ChildProcess } from "node:child_process";
import { spawnPrefixed } from "../processes.ts";
import { repoRoot } from "./paths.ts";
import { freePort } from "./ports.ts";

const transcoderEntry = `${repoRoot}transcoder/src/server.ts`;

export interface Transcoder {
  port: number;
  /** Base URL (what the Worker's `TRANSCODER_URL` names). */
  url: string;
  /** The Node process; replace it after a restart (`startTranscoder(port)`) so the stack stops the new one. */
  process: ChildProcess;
}

/** The Node transcoder on `port`, with prefixed logs (tests restart it after killing it). */
export function startTranscoder(port: number, name = "transcoder"): ChildProcess {
  return spawnPrefixed(name, "yellow", process.execPath, ["--experimental-strip-types", "--no-warnings", transcoderEntry], {
    cwd: repoRoot,
    env: { PORT: String(port) },
  });
}

/**
 * `count` transcoders on consecutive ports from `firstPort` (`npm start`: 8788, 8789, …), or on
 * free ports. Their log lines are `[transcoder]` for one, `[transcoder-1]`, `[transcoder-2]`… for more.
 */
export async function startTranscoders(count: number, firstPort?: number): Promise<Transcoder[]> {
  const transcoders: Transcoder[] = [];
  for (let i = 0; i < count; i++) {
    const port = firstPort === undefined ? await freePort() : firstPort + i;
    const name = count === 1 ? "transcoder" : `transcoder-${i + 1}`;
    transcoders.push({ port, url: `http://127.0.0.1:${port}`, process: startTranscoder(port, name) });
  }
  return transcoders;
}
