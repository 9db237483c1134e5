/**
 * `npm run bench:storage-ranges [master]`: what one read of a master through the Worker's
 * `/internal/storage` costs on the local stack when the reader stops after 1 MiB, as ffmpeg does
 * each time it seeks, for a closed range and for open ranges (`bytes=N-`, what ffmpeg sends) at
 * the start and near the end of the file. The master (default: a generated 3-minute 1080p30 file)
 * goes up through tus, so it is an R2 multipart object like every uploaded master.
 *
 * Printed per range: the time to the first MiB and the Worker's CPU (wrangler dev and workerd,
 * from /proc) over the 4 s after the reader aborted. docs/transcoding.md reads these numbers to
 * explain why the plan task grows with the master's length locally.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { adminToken, createVideo, planSourceGrant, tusUpload } from "../scripts/lib/upload-client.ts";
import { resolveFfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { masterKey } from "../workers/platform/media-layout.ts";
import { runTool, treeCpuSeconds } from "./lib.ts";

const work = mkdtempSync(join(tmpdir(), "reelstream-bench-ranges-"));
const MIB = 1024 * 1024;

async function master(): Promise<string> {
  if (process.argv[2]) return process.argv[2];
  const path = join(work, "master.mp4");
  console.log("[bench] generating a 3-minute 1080p30 master (testsrc2 + sine, 8 Mbit/s)…");
  await runTool(resolveFfmpegTools().ffmpeg, [
    ...[
      "-hide_banner",
      "-v",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=1920x1080:r=30:d=180",
      "-f",
      "lavfi",
      "-i",
      "sine=f=440:d=180",
    ],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", path],
  ]);
  return path;
}

const source = await master();
const size = statSync(source).size;
console.log("[bench] starting the local stack…");
const stack = await startLocalStack({ transcoders: 0 });
try {
  const account = { email: `ranges-${Date.now()}@example.com`, password: "correct horse battery staple", name: "Bench" };
  const token = await adminToken(stack.url, stack.database, account);
  const videoId = await createVideo(stack.url, token, { title: "Ranges", summary: "Generated.", genres: ["bench"], releaseYear: 2024 });
  console.log(`[bench] uploading ${(size / MIB).toFixed(0)} MiB through tus…`);
  const uploadUrl = await tusUpload(stack.url, token, videoId, source);
  const key = masterKey(videoId, new URL(uploadUrl).pathname.split("/").at(-1) ?? "");
  // A grant is valid while its attempt runs: the plan task is taken as a transcoder would be given it.
  const { token: grant } = await planSourceGrant(stack.database, stack.vars.INTERNAL_SIGNING_SECRET ?? "", videoId);
  const workerCpu = () => {
    const cpu = treeCpuSeconds(stack.worker.pid as number);
    return cpu.own + cpu.children;
  };
  const nearEnd = Math.max(0, size - 32 * MIB);
  console.log(`\nmaster ${(size / MIB).toFixed(1)} MiB (multipart); each read stops after 1 MiB`);
  for (const range of [`bytes=0-${MIB - 1}`, "bytes=0-", `bytes=${nearEnd}-`, `bytes=0-${MIB - 1}`]) {
    const cpuBefore = workerCpu();
    const started = performance.now();
    const controller = new AbortController();
    const response = await fetch(`${stack.url}/internal/storage/${key}`, {
      headers: { Authorization: `Bearer ${grant}`, Range: range },
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    while (read < MIB) {
      const { value, done } = await reader.read();
      if (done) break;
      read += value.length;
    }
    const firstMib = performance.now() - started;
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const left = range.endsWith("-") ? ` (${((size - Number(range.slice(6, -1))) / MIB).toFixed(0)} MiB to the end)` : "";
    console.log(
      `${range.padEnd(22)} ${response.status}  first MiB ${firstMib.toFixed(0).padStart(5)} ms  Worker CPU in the 4 s after: ${(workerCpu() - cpuBefore).toFixed(2)} s${left}`,
    );
  }
} finally {
  await stack.stop();
  rmSync(work, { recursive: true, force: true });
}
