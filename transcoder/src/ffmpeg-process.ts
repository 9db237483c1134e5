import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";

/**
 * Running ffmpeg and ffprobe as child processes: line-by-line output, cancellation, and the stall
 * watchdog. Nothing here knows what the arguments mean; the probe, the quality check and the
 * transcode build their own.
 */

/** ffmpeg stopped reporting progress for longer than the watchdog allows and was killed. */
export class FfmpegStalledError extends Error {
  readonly stalledForMs: number;
  constructor(stalledForMs: number) {
    super(`ffmpeg made no progress for ${Math.round(stalledForMs / 1000)} s and was stopped`);
    this.name = "FfmpegStalledError";
    this.stalledForMs = stalledForMs;
  }
}

/** The caller's AbortSignal fired (the client went away, the server is shutting down). */
export class ProcessAbortedError extends Error {
  constructor() {
    super("the job was cancelled");
    this.name = "ProcessAbortedError";
  }
}

export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of stderr, kept to explain a failure without holding a long log in memory. */
  stderrTail: string[];
}

export interface SpawnToolOptions {
  signal?: AbortSignal;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** How many trailing stderr lines to keep in the outcome. */
  stderrTailLines?: number;
  /**
   * Called once the child runs, with a function that kills it; used by the watchdog. The kill is
   * SIGKILL: a stuck ffmpeg blocked in a read never gets to handle SIGTERM's graceful finish.
   */
  onStart?: (kill: () => void) => void;
}

/**
 * Spawns `command args`, streams its output line by line and resolves when the process has exited
 * and its pipes are drained. It never rejects on a non-zero exit (callers decide what an exit code
 * means), only when the signal aborts or the binary cannot be started.
 */
export function spawnTool(command: string, args: readonly string[], options: SpawnToolOptions = {}): Promise<ProcessOutcome> {
  const { signal, stderrTailLines = 40 } = options;
  if (signal?.aborted) return Promise.reject(new ProcessAbortedError());

  return new Promise((resolve, reject) => {
    const [file, argv] = diesWithParent(command, args);
    const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const stderrTail: string[] = [];
    let aborted = false;
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    const onAbort = () => {
      aborted = true;
      kill();
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => options.onStdoutLine?.(line));
    createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      stderrTail.push(line);
      if (stderrTail.length > stderrTailLines) stderrTail.shift();
      options.onStderrLine?.(line);
    });

    child.once("spawn", () => options.onStart?.(kill));
    child.once("error", (error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new Error(`could not start ${command}: ${error.message}`));
    });
    // "close" (not "exit") fires once stdout and stderr are drained, so every line has been seen.
    child.once("close", (exitCode, exitSignal) => {
      signal?.removeEventListener("abort", onAbort);
      if (aborted) reject(new ProcessAbortedError());
      else if (file !== command && exitCode === SETPRIV_EXEC_FAILED && /^setpriv: /.test(stderrTail.at(-1) ?? ""))
        reject(new Error(`could not start ${command}: ${stderrTail.at(-1)}`));
      else resolve({ exitCode, signal: exitSignal, stderrTail });
    });
  });
}

/** util-linux's setpriv, where there is one (Debian's, the container's image's). */
const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => process.platform === "linux" && existsSync(path));
/** What setpriv exits with when it cannot run the command (util-linux's EXIT_FAILURE for exec). */
const SETPRIV_EXEC_FAILED = 127;

/**
 * The command line that runs `command` so that the kernel kills it when the transcoder dies
 * (`setpriv --pdeathsig KILL`: PR_SET_PDEATHSIG, then exec, same pid). A transcoder killed with
 * SIGKILL (an OOM, a crash, a container replaced) cannot stop its ffmpeg itself; without this, the
 * orphan would keep encoding, holding the CPU and the scratch disk of the instance's successor.
 */
function diesWithParent(command: string, args: readonly string[]): [string, readonly string[]] {
  return setpriv ? [setpriv, ["--pdeathsig", "KILL", "--", command, ...args]] : [command, args];
}

export interface FfmpegProgress {
  /** Seconds of output written so far (ffmpeg's `out_time_us`). */
  outTimeSeconds: number;
  /** `outTimeSeconds` over the expected duration, 0–100; null when the duration is unknown. */
  percent: number | null;
}

export interface RunFfmpegOptions extends Omit<SpawnToolOptions, "onStdoutLine" | "onStart"> {
  /** Expected output duration, to turn `out_time_us` into a percent. */
  durationSeconds?: number | null;
  onProgress?: (progress: FfmpegProgress) => void;
  /**
   * Kill ffmpeg when its output time has not advanced for this long. A corrupt input or a
   * storage mount that stops answering leaves ffmpeg blocked forever; this turns that into a
   * retryable failure instead of a container that is busy until someone notices.
   */
  stallTimeoutMs?: number;
  /**
   * Receives a function that counts as progress for the watchdog. ffmpeg reports no output time
   * until every output has started, and a storyboard's first tile only completes near the end of
   * the video: for most of a ladder run `-progress` is silent. The caller refreshes the watchdog
   * on other signs of life, such as new HLS segments on disk.
   */
  keepAlive?: (refresh: () => void) => void;
}

export interface FfmpegOutcome extends ProcessOutcome {
  /** The furthest output time ffmpeg reported: how far a decode-only run got into the file. */
  outTimeSeconds: number;
}

/**
 * Runs ffmpeg with `-progress pipe:1` prepended, reports progress, and enforces the stall
 * watchdog. Rejects with FfmpegStalledError (after the process is gone) when the watchdog fires.
 *
 * @example
 * await runFfmpeg("ffmpeg", ["-i", src, "-f", "null", "-"], { durationSeconds: 12, onProgress: (p) => log(p.percent) });
 */
export async function runFfmpeg(ffmpeg: string, args: readonly string[], options: RunFfmpegOptions = {}): Promise<FfmpegOutcome> {
  const { durationSeconds, onProgress, stallTimeoutMs } = options;
  let outTimeSeconds = 0;
  let stalled = false;
  let watchdog: NodeJS.Timeout | undefined;

  const onStdoutLine = (line: string) => {
    const separator = line.indexOf("=");
    if (separator < 0 || line.slice(0, separator) !== "out_time_us") return;
    const micros = Number(line.slice(separator + 1));
    // "N/A" until the first packet is written; time can also repeat while encoders buffer.
    if (!Number.isFinite(micros) || micros / 1e6 <= outTimeSeconds) return;
    outTimeSeconds = micros / 1e6;
    watchdog?.refresh();
    const percent = durationSeconds && durationSeconds > 0 ? Math.min(100, (outTimeSeconds / durationSeconds) * 100) : null;
    onProgress?.({ outTimeSeconds, percent });
  };

  const onStart = (kill: () => void) => {
    if (!stallTimeoutMs) return;
    watchdog = setTimeout(() => {
      stalled = true;
      kill();
    }, stallTimeoutMs);
    options.keepAlive?.(() => watchdog?.refresh());
  };

  try {
    const outcome = await spawnTool(ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1", ...args], {
      ...options,
      onStdoutLine,
      onStart,
    });
    if (stalled && stallTimeoutMs) throw new FfmpegStalledError(stallTimeoutMs);
    return { ...outcome, outTimeSeconds };
  } finally {
    clearTimeout(watchdog);
  }
}

/** Strips ffmpeg's `[demuxer @ 0x…]` and `[error]` prefixes from a log line. */
export function cleanLogLine(line: string): string {
  return line
    .replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, "")
    .replace(/^\[(error|fatal|warning|info)\]\s*/, "")
    .trim();
}

/** The most telling stderr line for a failure message: the last one that says error, else the last. */
export function describeFailure(stderrTail: readonly string[]): string {
  const telling = [...stderrTail].reverse().find((line) => /error|invalid|not found|unsupported/i.test(line)) ?? stderrTail.at(-1);
  return (telling && cleanLogLine(telling)) || "no diagnostic output";
}
