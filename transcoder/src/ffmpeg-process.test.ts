import { execFileSync, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClip, makeTempDir, tools } from "../test/clips.ts";
import { describeFailure, FfmpegStalledError, ProcessAbortedError, runFfmpeg } from "./ffmpeg-process.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("process");
});
afterAll(() => temp?.remove());

/** Processes whose command line mentions `needle`: what a killed ffmpeg must not still be. */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

describe("runFfmpeg", () => {
  it("reports progress as a percent of the expected duration", async () => {
    const seen: number[] = [];
    const outcome = await runFfmpeg(tools.ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=2", "-f", "null", "-"], {
      durationSeconds: 2,
      onProgress: ({ percent }) => percent !== null && seen.push(percent),
    });
    expect(outcome.exitCode).toBe(0);
    expect(outcome.outTimeSeconds).toBeCloseTo(2, 1);
    expect(seen.at(-1)).toBeGreaterThanOrEqual(99);
  });

  it("kills an ffmpeg stuck reading a pipe that never ends, and the process is gone", async () => {
    const source = await makeClip(temp.dir, "feed", { container: "mkv", seconds: 2, audio: false });
    const fifo = join(temp.dir, "never-ending.ts");
    execFileSync("mkfifo", [fifo]);
    // Half a file, then silence with the pipe held open: ffmpeg waits for bytes forever.
    const writer = createWriteStream(fifo);
    const data = await readFile(source);
    writer.write(data.subarray(0, Math.floor(data.length / 2)));
    try {
      const started = Date.now();
      const run = runFfmpeg(tools.ffmpeg, ["-i", fifo, "-f", "null", "-"], { stallTimeoutMs: 1000 });
      await expect(run).rejects.toBeInstanceOf(FfmpegStalledError);
      await expect(run).rejects.toThrow("ffmpeg made no progress for 1 s and was stopped");
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await processesMentioning(fifo)).toEqual([]);
    } finally {
      writer.destroy();
    }
  });

  it("lets the caller keep a run alive whose own progress is silent (a storyboard starts at the end)", async () => {
    // Segments appear every 0.5 s, but ffmpeg prints no progress until the tile output starts,
    // at the very end: the watchdog alone would take that for a stall.
    const silentRun = (dir: string, keepAlive?: (refresh: () => void) => void) =>
      runFfmpeg(
        tools.ffmpeg,
        [
          "-re",
          "-f",
          "lavfi",
          "-i",
          "testsrc2=s=160x120:r=10:d=3",
          "-filter_complex",
          "[0:v]split=2[a][b];[b]scale=16:12,tile=1x100[t]",
          "-map",
          "[a]",
          "-c:v",
          "libx264",
          "-preset",
          "ultrafast",
          "-f",
          "segment",
          "-segment_time",
          "0.5",
          "-force_key_frames",
          "expr:gte(t,n_forced*0.5)",
          join(dir, "seg%03d.ts"),
          "-map",
          "[t]",
          "-frames:v",
          "1",
          "-update",
          "1",
          join(dir, "tile.jpg"),
        ],
        { durationSeconds: 3, stallTimeoutMs: 1500, keepAlive },
      );
    const unwatched = join(temp.dir, "silent-unwatched");
    await mkdir(unwatched);
    await expect(silentRun(unwatched)).rejects.toBeInstanceOf(FfmpegStalledError);

    const watched = join(temp.dir, "silent-watched");
    await mkdir(watched);
    let seen = 0;
    let poll: NodeJS.Timeout | undefined;
    const outcome = await silentRun(watched, (refresh) => {
      poll = setInterval(async () => {
        const count = (await readdir(watched)).filter((name) => name.startsWith("seg")).length;
        if (count > seen) {
          seen = count;
          refresh();
        }
      }, 200);
    }).finally(() => clearInterval(poll));
    expect(outcome.exitCode).toBe(0);
    expect(seen).toBeGreaterThanOrEqual(4);
  });

  it("stops ffmpeg when the caller aborts", async () => {
    const controller = new AbortController();
    const run = runFfmpeg(tools.ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=30", "-f", "null", "-"], {
      signal: controller.signal,
      onProgress: ({ outTimeSeconds }) => outTimeSeconds > 1 && controller.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(ProcessAbortedError);
  });

  it("dies with the transcoder: a SIGKILLed parent leaves no ffmpeg encoding as an orphan", async () => {
    // A parent of its own (the transcoder), running ffmpeg on an input that lasts minutes.
    const needle = `testsrc2=s=162x122:r=25:d=${600 + Math.floor(Math.random() * 1000)}`;
    const module = fileURLToPath(new URL("./ffmpeg-process.ts", import.meta.url));
    // runFfmpeg as the tasks call it (-nostats -progress pipe:1): ffmpeg ignores SIGPIPE, so a dead
    // reader alone does not stop it.
    const script = `import { runFfmpeg } from ${JSON.stringify(module)};
      await runFfmpeg(${JSON.stringify(tools.ffmpeg)}, ["-re", "-f", "lavfi", "-i", ${JSON.stringify(needle)}, "-f", "null", "-"], { onProgress: () => console.log("started") });`;
    const parent = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      parent.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("started") && resolve());
      parent.once("exit", (code) => reject(new Error(`the parent exited (${code}) before ffmpeg started`)));
    });
    // The parent's own command line names the input too.
    expect((await processesMentioning(needle)).filter((pid) => pid !== parent.pid)).toHaveLength(1);
    parent.kill("SIGKILL");
    // The kernel sends ffmpeg SIGKILL when its parent dies: wait for that (a few ms), at most 10 s.
    const deadline = Date.now() + 10_000;
    while ((await processesMentioning(needle)).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const left = await processesMentioning(needle);
    for (const pid of left) process.kill(pid, "SIGKILL");
    expect(left).toEqual([]);
  });

  it("resolves with the exit code and the telling stderr line when ffmpeg fails", async () => {
    const outcome = await runFfmpeg(tools.ffmpeg, ["-i", join(temp.dir, "missing.mp4"), "-f", "null", "-"]);
    expect(outcome.exitCode).not.toBe(0);
    expect(describeFailure(outcome.stderrTail)).toContain("No such file or directory");
  });
});
