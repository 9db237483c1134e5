/**
 * `npm run bench:web`: the web app's two numbers (issue 14).
 *
 * 1. Its own JavaScript, gzipped: the chunk every page loads, each chunk loaded on demand, and
 *    hls.js apart (it must be a chunk of its own, imported only by the player). Target: under 60 KB.
 * 2. Time to first frame after pressing play: in Debian's Chromium, from the click on a title
 *    page's Play button to the first video frame painted (the app's User Timing marks
 *    `reelstream:play-pressed` and `reelstream:first-frame`, the latter from
 *    requestVideoFrameCallback). It includes the player chunk and hls.js loading, the play request,
 *    the signed master and media playlists, the first segments and decoding. `BENCH_ROUNDS` rounds
 *    (default 5), each in a new browser profile (nothing cached in the browser). Target: under 1 s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { buildWebApp, type WebChunk } from "../scripts/lib/web-app.ts";
import { launchChromium } from "../testing/chromium.ts";
import {
  generateLadder,
  insertReadyVideo,
  ladderMedia,
  randomVideoId,
  subscribedViewer,
  uploadLadder,
} from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { progress, summarize } from "./lib.ts";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const APP_JS_TARGET_KB = 60;
const FIRST_FRAME_TARGET_MS = 1000;

const kb = (bytes: number) => bytes / 1024;
const gzipped = (chunk: WebChunk) => gzipSync(chunk.code, { level: 9 }).length;
const isHls = (chunk: WebChunk) => chunk.moduleIds.some((id) => id.includes("/node_modules/hls.js/"));

function measureBundle(chunks: WebChunk[]) {
  console.log("\n== The app's JavaScript (gzip -9) ==");
  const hls = chunks.filter(isHls);
  const own = chunks.filter((chunk) => !isHls(chunk));
  for (const chunk of own) {
    const when = chunk.isEntry ? "every page" : chunk.isDynamicEntry ? "on demand" : "shared";
    console.log(`${chunk.fileName.padEnd(40)} ${kb(gzipped(chunk)).toFixed(1).padStart(7)} KB   ${when}`);
  }
  const total = own.reduce((sum, chunk) => sum + gzipped(chunk), 0);
  const entry = own.filter((chunk) => chunk.isEntry).reduce((sum, chunk) => sum + gzipped(chunk), 0);
  console.log(
    `${"app JavaScript, all chunks".padEnd(40)} ${kb(total).toFixed(1).padStart(7)} KB   target < ${APP_JS_TARGET_KB} KB: ${kb(total) < APP_JS_TARGET_KB ? "met" : "NOT met"}`,
  );
  console.log(`${"  of which the first page load".padEnd(40)} ${kb(entry).toFixed(1).padStart(7)} KB`);
  for (const chunk of hls) {
    // hls.js must load with the player only: no chunk that the entry loads statically may be it.
    const staticallyLoaded = chunks.some((other) => other.isEntry && (other === chunk || other.imports.includes(chunk.fileName)));
    const importers = chunks.filter((other) => other.code.includes(chunk.fileName.split("/").at(-1) ?? "")).map((other) => other.fileName);
    console.log(
      `${`hls.js (${chunk.fileName})`.padEnd(40)} ${kb(gzipped(chunk)).toFixed(1).padStart(7)} KB   ${staticallyLoaded ? "LOADED WITH EVERY PAGE" : `lazy, imported by ${importers.join(", ")}`}`,
    );
  }
  if (hls.length === 0) console.log("hls.js: no chunk of its own (it is inside another chunk)");
}

async function measureFirstFrame(assets: string) {
  console.log("\n== Time to first frame after pressing Play (Chromium, local stack) ==");
  // The test Worker: its test route puts the generated ladder into R2 the way the transcoder would.
  const [stack, ladder] = await Promise.all([startLocalStack({ main: testWorkerEntry, assets }), generateLadder(12)]);
  const browser = await launchChromium();
  try {
    const videoId = randomVideoId();
    await insertReadyVideo(stack.database, videoId, ladderMedia(ladder));
    await uploadLadder(stack.url, videoId, ladder.dir);
    const viewer = await subscribedViewer(stack.url, "premium");
    const samples: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const context = await browser.newContext({ baseURL: stack.url, viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto("/signin");
      await page.getByLabel("Email").fill(viewer.user.email);
      await page.getByLabel("Password").fill("correct horse battery staple");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((url) => url.pathname === "/");
      await page.goto(`/title/${videoId}`);
      await page.getByTestId("play").waitFor();
      await page.getByTestId("play").click();
      await page.waitForFunction("performance.getEntriesByName('reelstream:first-frame').length > 0", undefined, { timeout: 30_000 });
      const ms = (await page.evaluate(
        "performance.measure('first-frame', 'reelstream:play-pressed', 'reelstream:first-frame').duration",
      )) as number;
      samples.push(ms);
      progress("rounds", round, rounds);
      // Signing out releases the screen, so the next round's play is not refused for screens.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL("**/signin");
      await context.close();
    }
    const s = summarize(samples);
    console.log(`samples (ms): ${samples.map((ms) => ms.toFixed(0)).join(", ")}`);
    console.log(
      `first frame after Play: p50 ${s.p50.toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms, mean ${s.mean.toFixed(0)} ms (n=${s.n})   target < ${FIRST_FRAME_TARGET_MS} ms: ${s.p50 < FIRST_FRAME_TARGET_MS ? "met" : "NOT met"}`,
    );
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(ladder.root, { recursive: true, force: true });
  }
}

async function main() {
  const assets = mkdtempSync(join(tmpdir(), "reelstream-bench-web-"));
  try {
    measureBundle(await buildWebApp(assets));
    await measureFirstFrame(assets);
  } finally {
    rmSync(assets, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
