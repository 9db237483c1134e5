import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, freePortRun, repoRoot } from "./lib/local-stack/index.ts";
import { waitForHttp } from "./lib/processes.ts";

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** /proc/<pid>/stat after the command's last ')' (it may hold spaces): "state ppid pgrp …". */
function statFields(pid: number): string[] {
  return read(`/proc/${pid}/stat`).split(") ").at(-1)?.split(" ") ?? [];
}

/** Every process below `root` (npm start's tree), read from /proc. */
function processesBelow(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    const ppid = Number(statFields(Number(entry))[1]);
    if (ppid) parents.set(Number(entry), ppid);
  }
  const below = (pid: number): boolean => pid === root || (parents.has(pid) && below(parents.get(pid) as number));
  return [...parents.keys()].filter((pid) => pid !== root && below(pid));
}

/** Whether `pid` still runs (a zombie waiting for its parent does not). */
function running(pid: number): boolean {
  const state = statFields(pid)[0];
  return state !== undefined && state !== "" && state !== "Z";
}

/** The pid of the transcoder on `port` below process `root` (npm start's tree). */
function transcoderPid(root: number, port: number): number | undefined {
  return processesBelow(root).find(
    (pid) =>
      read(`/proc/${pid}/cmdline`).includes("transcoder/src/server.ts") &&
      read(`/proc/${pid}/environ`).split("\0").includes(`PORT=${port}`),
  );
}

/** `npm start` as a newcomer runs it: a real process, real ports, real Ctrl-C. */
describe("npm start", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "reelstream-dev-"));
  const started: ChildProcess[] = [];

  afterAll(() => {
    for (const child of started) if (child.pid && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
  });

  function start(
    port: number,
    transcoderPort: number,
    options: { seed?: boolean; stateDir?: string; env?: Record<string, string>; asNpmStart?: boolean } = {},
  ) {
    // asNpmStart: `npm start` itself (npm, its shell, tsx, the script), in a process group of its own as a terminal gives it.
    const [command, args] = options.asNpmStart
      ? ["npm", ["start", "--silent"]]
      : [process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), "scripts/dev.ts"]];
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        TRANSCODER_PORT: String(transcoderPort),
        REELSTREAM_STATE_DIR: options.stateDir ?? stateDir,
        DATABASE_URL: "",
        // The first start seeds demo videos (a minute of transcoding): one test below checks it.
        SEED: options.seed ? "1" : "0",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.asNpmStart === true,
    });
    started.push(child);
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const until = async (pattern: RegExp, timeoutMs = 90_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${output}`);
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before ${pattern}; output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    return { child, exited, until, output: () => output };
  }

  async function json(url: string, init: RequestInit = {}) {
    const response = await fetch(url, { ...init, headers: { "Content-Type": "application/json", ...init.headers } });
    return { status: response.status, body: response.status === 204 ? null : ((await response.json()) as Record<string, unknown>) };
  }

  it("serves the whole users flow, restarts a killed transcoder, refuses a second instance, stops every child on Ctrl-C, and keeps accounts across restarts", async () => {
    const [port, transcoderPort] = [await freePort(), await freePortRun(2)];
    const base = `http://localhost:${port}`;
    const first = start(port, transcoderPort);
    await first.until(/Reelstream is up/);
    expect(first.output()).toMatch(/\[db\] migrations applied/);
    expect(first.output()).toMatch(/\[worker\]/);

    expect((await json(`${base}/health`)).status).toBe(200);
    const email = `newcomer-${Date.now()}@example.com`;
    const password = "correct horse battery staple";
    const signup = await json(`${base}/v1/auth/signup`, { method: "POST", body: JSON.stringify({ email, password, name: "New" }) });
    expect(signup.status).toBe(201);
    const signin = await json(`${base}/v1/auth/signin`, { method: "POST", body: JSON.stringify({ email, password }) });
    expect(signin.status).toBe(200);
    const auth = { Authorization: `Bearer ${signin.body?.accessToken}` };
    expect((await json(`${base}/v1/me`, { headers: auth })).status).toBe(200);
    const refreshed = await json(`${base}/v1/auth/refresh`, {
      method: "POST",
      body: JSON.stringify({ refreshToken: signin.body?.refreshToken }),
    });
    expect(refreshed.status).toBe(200);
    const newAuth = { Authorization: `Bearer ${refreshed.body?.accessToken}` };
    expect((await json(`${base}/v1/auth/signout`, { method: "POST", headers: newAuth })).status).toBe(204);
    expect((await json(`${base}/v1/me`, { headers: newAuth })).status).toBe(401);

    // The transcoders take tasks only with the token the stack gave the Worker.
    const anonymous = await fetch(`http://127.0.0.1:${transcoderPort}/tasks`, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);

    // A transcoder killed outright is started again, as Cloudflare replaces an instance; the rest keeps running.
    const killed = transcoderPid(first.child.pid as number, transcoderPort);
    expect(killed).toBeGreaterThan(0);
    process.kill(killed as number, "SIGKILL");
    await first.until(/\[dev\] transcoder-1 exited \(SIGKILL\); restarting it/);
    expect(await waitForHttp(`http://127.0.0.1:${transcoderPort}/healthz`, 30_000)).toBe(true);
    expect(transcoderPid(first.child.pid as number, transcoderPort)).not.toBe(killed);
    expect((await json(`${base}/health`)).status).toBe(200);

    const second = start(await freePort(), await freePortRun(2));
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/already running/);

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/\[dev\] stopped/);
    await expect(fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();

    const again = start(port, transcoderPort);
    await again.until(/Reelstream is up/);
    expect((await json(`${base}/v1/auth/signin`, { method: "POST", body: JSON.stringify({ email, password }) })).status).toBe(200);
    again.child.kill("SIGINT");
    expect(await again.exited).toBe(0);
  }, 240_000);

  it("takes the client's address from its connection, keeps wrangler's trigger routes and the cron to itself, and leaves no process after SIGTERM to its process group", async () => {
    const [port, transcoderPort] = [await freePort(), await freePortRun(2)];
    const base = `http://localhost:${port}`;
    const run = start(port, transcoderPort, { asNpmStart: true, stateDir: join(stateDir, "group"), env: { CRON_SECONDS: "1" } });
    await run.until(/Reelstream is up/);
    // The stack runs the cron itself (before, it called a route this wrangler does not have: the cron never ran).
    await run.until(/\[cron\] the Worker's scheduled handler ran/, 30_000);
    // wrangler dev's trigger routes run the cron for anyone who asks; Cloudflare never hands /cdn-cgi/ to a Worker.
    for (const path of ["/cdn-cgi/local/scheduled?cron=*+*+*+*+*", "/cdn-cgi/handler/scheduled", "/__scheduled"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    // Sign-ups are limited to 5 a minute per address: a client naming another address in each is still one client.
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const response = await fetch(`${base}/v1/auth/signup`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": `203.0.113.${i + 1}` },
        body: JSON.stringify({ email: `spoof-${i}-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Spoof" }),
      });
      await response.body?.cancel();
      statuses.push(response.status);
    }
    expect(statuses).toContain(429);

    // SIGTERM to the whole group, as a terminal's hang-up or a supervisor sends it: nothing may be left.
    const tree = processesBelow(run.child.pid as number);
    expect(tree.length).toBeGreaterThan(4);
    process.kill(-(run.child.pid as number), "SIGTERM");
    await run.exited;
    const deadline = Date.now() + 10_000;
    while (tree.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(tree.filter(running).map((pid) => `${pid} ${read(`/proc/${pid}/cmdline`).replaceAll("\0", " ").slice(0, 120)}`)).toEqual([]);
  }, 180_000);

  it("leaves no process when the script itself is killed outright (SIGKILL runs no handler)", async () => {
    const run = start(await freePort(), await freePortRun(2), { stateDir: join(stateDir, "killed") });
    await run.until(/Reelstream is up/);
    // tsx runs the script in a node process of its own: that one holds the stack.
    const script = processesBelow(run.child.pid as number).find((pid) => read(`/proc/${pid}/cmdline`).includes("scripts/dev.ts"));
    expect(script).toBeGreaterThan(0);
    const tree = processesBelow(script as number);
    expect(tree.length).toBeGreaterThan(2);
    process.kill(script as number, "SIGKILL");
    const deadline = Date.now() + 10_000;
    while (tree.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(tree.filter(running).map((pid) => `${pid} ${read(`/proc/${pid}/cmdline`).replaceAll("\0", " ").slice(0, 120)}`)).toEqual([]);
    run.child.kill("SIGKILL");
  }, 120_000);

  it("seeds demo videos in the background on the first start only, without holding up the Worker", async () => {
    const [port, transcoderPort] = [await freePort(), await freePortRun(2)];
    const freshState = join(stateDir, "fresh");
    const fresh = start(port, transcoderPort, { seed: true, stateDir: freshState });
    await fresh.until(/Reelstream is up/);
    // The first demo is on its way through tus while the Worker answers.
    await fresh.until(/\[seed\] ↑ Colour Bars at Dawn: uploading/);
    expect((await json(`http://localhost:${port}/health`)).status).toBe(200);
    await fresh.until(/\[seed\] done/, 150_000);
    expect(fresh.output()).toMatch(/\[seed\] ✓ Vertical Signals: ready/);
    expect(existsSync(join(freshState, "seeded"))).toBe(true);
    fresh.child.kill("SIGINT");
    expect(await fresh.exited).toBe(0);

    const later = start(port, transcoderPort, { seed: true, stateDir: freshState });
    await later.until(/Reelstream is up/);
    later.child.kill("SIGINT");
    expect(await later.exited).toBe(0);
    expect(later.output()).not.toMatch(/\[seed\]/);
  }, 180_000);
});
