/**
 * `npm run bench:plan`: the plan task's time and the bytes it reads of the master, for a 1-minute
 * and a 10-minute 1080p30 master on the local stack (uploaded through tus, read through the
 * Worker's `/internal/storage` as a transcoder reads it), side by side:
 *
 * - `windows`: as the transcoder server runs it, ffmpeg behind the range proxy (closed ranges,
 *   transcoder/src/range-proxy.ts); bytes and requests are what came from the storage route.
 * - `open`: ffmpeg straight at the route, with its open ranges (`bytes=N-`), as before; the
 *   route now answers each with at most 16 MiB. Its bytes are not seen from here (time only).
 *
 * The 10-minute master is the 1-minute one looped ten times (stream copy), so every figure but the
 * length is the same. The target (issue 22): at 10 minutes within 2x of 1 minute, in time and bytes.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taskEnvelope } from "../scripts/lib/chunked-job.ts";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { adminToken, createVideo, planSourceGrant, tusUpload } from "../scripts/lib/upload-client.ts";
import { resolveFfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { HttpStorage } from "../transcoder/src/http-storage.ts";
import { startRangeProxy } from "../transcoder/src/range-proxy.ts";
import { runTask } from "../transcoder/src/tasks.ts";
import { masterKey } from "../workers/platform/media-layout.ts";
import type { PlanResult } from "../workers/transcoding/contract.ts";
import { runTool } from "./lib.ts";

const work = mkdtempSync(join(tmpdir(), "reelstream-bench-plan-"));
const tools = resolveFfmpegTools();
const MIB = 1024 * 1024;
const rounds = Number(process.env.ROUNDS ?? 2);

async function masters(): Promise<{ minutes: number; path: string }[]> {
  const one = join(work, "1min.mp4");
  const ten = join(work, "10min.mp4");
  console.log("[bench] generating a 1-minute 1080p30 master (testsrc2 + sine, 6 Mbit/s, keyframe every 2 s)…");
  await runTool(tools.ffmpeg, [
    ...["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=60", "-f", "lavfi", "-i", "sine=f=440:d=60"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", one],
  ]);
  console.log("[bench] looping it ten times into a 10-minute master (stream copy)…");
  await runTool(tools.ffmpeg, ["-hide_banner", "-v", "error", "-y", "-stream_loop", "9", "-i", one, "-c", "copy", ten]);
  return [
    { minutes: 1, path: one },
    { minutes: 10, path: ten },
  ];
}

const sources = await masters();
console.log("[bench] starting the local stack…");
const stack = await startLocalStack({ transcoders: 0 });
const proxy = await startRangeProxy();
try {
  const account = { email: `plan-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Bench" };
  const token = await adminToken(stack.url, stack.database, account);
  const rows: string[] = [];
  const figures = new Map<string, { seconds: number; bytes: number; requests: number }>();
  for (const { minutes, path } of sources) {
    const size = statSync(path).size;
    const videoId = await createVideo(stack.url, token, {
      title: `Plan ${minutes}`,
      summary: "Generated.",
      genres: ["bench"],
      releaseYear: 2024,
    });
    console.log(`[bench] uploading the ${minutes}-minute master (${(size / MIB).toFixed(0)} MiB) through tus…`);
    const uploadUrl = await tusUpload(stack.url, token, videoId, path);
    const key = masterKey(videoId, new URL(uploadUrl).pathname.split("/").at(-1) ?? "");
    // A grant is valid while its attempt runs: the plan task is taken as a transcoder would be
    // given it, and its source grant (all a plan reads with: the master's size and bytes) serves
    // every round. An hour, the lease too: the rounds of both masters fit in it. An instance of its
    // own per master: an instance runs one task at a time (the database holds it to that).
    const secret = stack.vars.INTERNAL_SIGNING_SECRET ?? "";
    const { token: grant } = await planSourceGrant(stack.database, secret, videoId, `bench-${minutes}min`, 3600);
    const plan = async (storage: HttpStorage) => {
      const started = performance.now();
      const result = (await runTask(
        { ...taskEnvelope(videoId, key), kind: "plan", taskId: "plan", attempt: 1, attemptTag: "plan-a1-", chunkSeconds: 60 },
        // The plan's own line says where its keyframes came from (the index, or the packet scan and why) and what that read.
        {
          storage,
          tools,
          workRoot: join(work, "tasks"),
          preset: "veryfast",
          log: (line) => line.startsWith("planned") && console.log(`  ${line}`),
        },
      )) as PlanResult;
      return { seconds: (performance.now() - started) / 1000, chunks: result.chunks.length };
    };
    for (let round = 1; round <= rounds; round++) {
      for (const how of ["windows", "open"] as const) {
        const before = { ...proxy.stats };
        const { seconds, chunks } = await plan(new HttpStorage(stack.url, grant, how === "windows" ? { rangeProxy: proxy } : {}));
        const bytes = proxy.stats.bytes - before.bytes;
        const requests = proxy.stats.requests - before.requests;
        const label = `${minutes} min ${how}`;
        const best = figures.get(label);
        if (!best || seconds < best.seconds) figures.set(label, { seconds, bytes, requests });
        rows.push(
          `${String(minutes).padStart(2)} min  ${how.padEnd(8)} round ${round}: ${seconds.toFixed(2).padStart(6)} s  ${chunks} chunk(s)` +
            (how === "windows" ? `  read ${(bytes / MIB).toFixed(1)} MiB of ${(size / MIB).toFixed(1)} in ${requests} requests` : ""),
        );
        console.log(rows.at(-1));
      }
    }
  }
  console.log("\nbest of each (time), 10 min against 1 min:");
  for (const how of ["windows", "open"]) {
    const one = figures.get(`1 min ${how}`);
    const ten = figures.get(`10 min ${how}`);
    if (!one || !ten) continue;
    const bytes =
      how === "windows"
        ? `; bytes ${(one.bytes / MIB).toFixed(1)} → ${(ten.bytes / MIB).toFixed(1)} MiB (${(ten.bytes / one.bytes).toFixed(2)}x)`
        : "";
    console.log(
      `${how.padEnd(8)} time ${one.seconds.toFixed(2)} → ${ten.seconds.toFixed(2)} s (${(ten.seconds / one.seconds).toFixed(2)}x)${bytes}`,
    );
  }
} finally {
  await proxy.close();
  await stack.stop();
  rmSync(work, { recursive: true, force: true });
}
