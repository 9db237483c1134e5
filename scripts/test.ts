/**
 * `npm test` after lint: every Vitest project, in two lanes at once, then one report of them all.
 *
 * Vitest gives one process a single number of files at a time (`maxWorkers`, 1 on a 2-core
 * machine), and two files of one Worker project must not run together: they share that project's
 * database (an embedded PGlite answers one connection at a time). Two lanes keep each project to
 * one file at a time while the machine's second core works:
 *
 * - `node`: the transcoder, scripts and end-to-end tests (each starts its own stack, on free ports);
 * - `workers`: the Worker's projects (`worker`, `worker-postgresql`), then `npm start`'s test, which
 *   balances the lanes. Run beside the node lane, the Worker projects take far longer than alone
 *   (1219 s against 341 s at the first two-lane CI run, c. 20:50 on 2026-12-07: lanes node 1181 s,
 *   workers 1664 s with the outage test in this lane too; it moved to the node lane).
 *   Each run prints both lanes' times: move a file when one lane ends far before the other.
 *
 * Each lane writes a blob report; `vitest --merge-reports` then prints the one summary (files and
 * tests of all projects) and sets the exit code. Arguments (`npm test -- workers/health`) run one
 * plain `vitest run` with them instead.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./lib/local-stack/index.ts";
import { prefixedLogger } from "./lib/processes.ts";

const vitestBin = join(repoRoot, "node_modules/vitest/vitest.mjs");
const reports = join(repoRoot, ".vitest-reports");
/** The node project's files that run in the workers lane (see above). */
const besideWorkers = ["scripts/dev.test.ts"];

interface Run {
  /** Names its blob report (`.vitest-reports/<name>-<n>.json`). */
  lane: string;
  args: string[];
}

/** One lane: its runs one after another. Resolves with the first non-zero exit code, or 0. */
async function runLane(lane: string, runs: Run[], color: "cyan" | "magenta"): Promise<{ code: number; seconds: number }> {
  const log = prefixedLogger(lane, color);
  const started = Date.now();
  let failed = 0;
  for (const [index, run] of runs.entries()) {
    const args = [
      "run",
      ...run.args,
      "--reporter=default",
      "--reporter=blob",
      `--outputFile.blob=${join(reports, `${run.lane}-${index}.json`)}`,
    ];
    const code = await vitest(args, log);
    if (code !== 0 && failed === 0) failed = code;
  }
  return { code: failed, seconds: (Date.now() - started) / 1000 };
}

function vitest(args: string[], log?: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitestBin, ...args], {
      cwd: repoRoot,
      stdio: log ? ["ignore", "pipe", "pipe"] : "inherit",
      // A lane's output goes through a pipe: coloured only when this run's own output is a terminal.
      env: log && process.stdout.isTTY ? { ...process.env, FORCE_COLOR: "1" } : process.env,
    });
    if (log) {
      let pending = "";
      const onData = (chunk: Buffer) => {
        const lines = (pending + chunk.toString()).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) log(line);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("close", () => pending && log(pending));
    }
    child.once("error", reject);
    child.once("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const extra = process.argv.slice(2);
  if (extra.length > 0) return vitest(["run", ...extra]);
  rmSync(reports, { recursive: true, force: true });
  const started = Date.now();
  const [node, workers] = await Promise.all([
    runLane("node", [{ lane: "node", args: ["--project", "node", ...besideWorkers.flatMap((file) => ["--exclude", file])] }], "cyan"),
    runLane(
      "workers",
      [
        { lane: "workers", args: ["--project", "worker*"] },
        { lane: "beside-workers", args: ["--project", "node", ...besideWorkers] },
      ],
      "magenta",
    ),
  ]);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `\n[test] lanes: node ${node.seconds.toFixed(0)} s, workers ${workers.seconds.toFixed(0)} s; both done in ${seconds.toFixed(0)} s`,
  );
  console.log("[test] every project, from the lanes' reports:");
  const merged = await vitest(["run", "--merge-reports", reports, "--reporter=dot"]);
  return node.code || workers.code || merged;
}

process.exitCode = await main();
