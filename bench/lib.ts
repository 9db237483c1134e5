import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createVideo, tusUpload } from "../scripts/lib/upload-client.ts";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** A progress line that rewrites itself on a terminal and prints every step elsewhere. */
export function progress(label: string, done: number, total: number) {
  const line = `${label}: ${done}/${total}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}${done === total ? "\n" : ""}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 5)) === 0) console.log(line);
}

/**
 * `rootPid` and every process below it, each with its /proc/{pid}/stat fields after the command
 * name (fields[1] is the parent's pid).
 */
export function processTree(rootPid: number): Map<number, string[]> {
  const stats = new Map<number, string[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may contain spaces and parentheses: fields start after the last ")".
      stats.set(Number(entry), stat.slice(stat.lastIndexOf(")") + 2).split(" "));
    } catch {
      // exited meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let current = pid, hops = 0; current > 1 && hops < 64; hops++) {
      if (current === rootPid) return true;
      current = Number(stats.get(current)?.[1] ?? 0);
    }
    return false;
  };
  return new Map([...stats].filter(([pid]) => inTree(pid)));
}

/**
 * CPU seconds used so far by `rootPid`'s process tree: each live process's own time plus what its
 * reaped children used (so an ffmpeg that has exited still counts, in its parent). 100 ticks/s.
 */
export function treeCpuSeconds(rootPid: number): { own: number; children: number } {
  const ticks = { own: 0, children: 0 };
  for (const [pid, fields] of processTree(rootPid)) {
    // utime + stime of the root itself; everything else (its descendants, and their reaped children) is `children`
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = Number(fields[13]) + Number(fields[14]);
    if (pid === rootPid) ticks.own += own;
    else ticks.children += own;
    ticks.children += reaped;
  }
  return { own: ticks.own / 100, children: ticks.children / 100 };
}

/**
 * Raises the named Rate Limiting bindings in a generated configuration (the harness writes it from
 * wrangler.toml; `startLocalStack({ configure })`), so a benchmark's few accounts are not refused.
 * The limiters are still called on every request. Throws when wrangler.toml has none of them.
 */
export function raiseRateLimits(toml: string, names: string[]): string {
  let raised = 0;
  const text = toml.replace(
    /(name = "([A-Z_]+)"\s+namespace_id = "\d+"\s+simple = \{ limit = )\d+/g,
    (whole, head: string, name: string) => {
      if (!names.includes(name)) return whole;
      raised++;
      return `${head}1000000000`;
    },
  );
  if (raised === 0) throw new Error(`wrangler.toml has none of ${names.join(", ")} to raise`);
  return text;
}

/** Runs a tool (ffmpeg) to completion; rejects with the end of its stderr when it fails. */
export function runTool(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-2000);
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${tail}`))));
  });
}

/**
 * A title made for a benchmark and its source uploaded through tus (the real path), reporting the
 * upload as a step; answers the title's id once the upload is complete.
 */
export async function uploadBenchTitle(
  baseUrl: string,
  token: () => Promise<string>,
  label: string,
  source: string,
  step: (line: string) => void,
): Promise<string> {
  const videoId = await createVideo(baseUrl, await token(), {
    title: `Bench ${label}`,
    summary: "Generated.",
    genres: ["bench"],
    releaseYear: 2024,
  });
  step(`${label}: uploading through tus…`);
  await tusUpload(baseUrl, await token(), videoId, source);
  return videoId;
}
