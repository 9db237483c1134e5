import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";

const colors = { cyan: 36, magenta: 35, yellow: 33, green: 32, blue: 34 } as const;
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;

/** A log function whose lines start with `[name]`, coloured on a terminal. */
export function prefixedLogger(name: string, color: keyof typeof colors) {
  const prefix = useColor ? `\x1b[${colors[color]}m[${name}]\x1b[0m` : `[${name}]`;
  return (line: string) => process.stdout.write(`${prefix} ${line}\n`);
}

/** util-linux's setpriv, where there is one (Debian has it). */
const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => process.platform === "linux" && existsSync(path));

/**
 * Spawns a child in its own process group, with every output line prefixed. With
 * `parentDeathSignal`, the kernel sends the child that signal when this process dies, however it
 * dies (`setpriv --pdeathsig`: PR_SET_PDEATHSIG, then exec, same pid): a SIGKILLed `npm start` runs
 * no handler, and its children, each in a group of its own, would otherwise run on.
 */
export function spawnPrefixed(
  name: string,
  color: keyof typeof colors,
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; parentDeathSignal?: "TERM" | "KILL" } = {},
): ChildProcess {
  const log = prefixedLogger(name, color);
  if (options.parentDeathSignal && setpriv) {
    args = ["--pdeathsig", options.parentDeathSignal, "--", command, ...args];
    command = setpriv;
  }
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", log);
  }
  return child;
}

/** How `stopChild` asks first. */
export interface StopOptions {
  /** How long the child has before SIGKILL to its group; default 5 s. */
  graceMs?: number;
  /** Who gets the polite signal: the group (default) or the child alone, as a container's PID 1. */
  terminate?: "group" | "process";
  /** The polite signal; default SIGTERM. */
  signal?: NodeJS.Signals;
}

/**
 * Stops a child and everything it started (its process group), politely first: SIGTERM (or
 * `signal`) to the group (or, with `terminate: "process"`, to the child alone), then SIGKILL to
 * the group after `graceMs`.
 */
export async function stopChild(child: ChildProcess, options: StopOptions = {}): Promise<void> {
  const { graceMs = 5000, terminate = "group", signal = "SIGTERM" } = options;
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(terminate === "group" ? -child.pid : child.pid, signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** Asks `look` every 200 ms until it gives a value, and returns it; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, look: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Polls `url` until it answers (any status below 500), the time is up or `signal` aborts. */
export async function waitForHttp(url: string, timeoutMs = 60_000, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status < 500) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return false;
}
