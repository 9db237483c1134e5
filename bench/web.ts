/**
 * `npm run bench:web`: the web app's numbers (issues 14 and 24), side by side in one run.
 *
 * 1. Its own JavaScript, gzipped: the chunk every page loads, each chunk loaded on demand, and
 *    hls.js apart (it must be a chunk of its own, imported only by the player). Target: under 60 KB.
 * 2. Bytes of images on a home page of 50 titles (every "All titles" page scrolled in), at the
 *    desktop and the phone size: the posters the page chose from `srcset`, beside what the same
 *    cards cost as the 1280-px JPEG frame (what every card loaded before sizes existed).
 * 3. Layout shift (CLS, Chromium's `layout-shift` entries without recent input) of every page, at
 *    both sizes. Target: under 0.1.
 * 4. Time to first frame after pressing Play and the rendition of the first video segment, at
 *    1280×800 and 390×844 (2x), on a fast network and a slow one (CDP: 1.6 Mbit/s down, 150 ms). From the
 *    click on a title page's Play button to the first painted frame (the app's User Timing marks
 *    `reelstream:play-pressed` and `reelstream:first-frame`, the latter from
 *    requestVideoFrameCallback), in a new browser profile each round (nothing cached), so it
 *    includes the player chunk, hls.js, the play request, playlists, the first segments and
 *    decoding. `BENCH_ROUNDS` rounds per case (default 5). Target: p50 under 1 s on the fast network.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { buildWebApp, type WebChunk } from "../scripts/lib/web-app.ts";
import { launchChromium, signInThroughTheForm, waitForPage } from "../testing/chromium.ts";
import { recordLayoutShifts, takeLayoutShift } from "../testing/layout-shift.ts";
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
const CLS_TARGET = 0.1;
const CATALOG_TITLES = 50;
const PASSWORD = "correct horse battery staple";

const sizes = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
} as const;
type SizeName = keyof typeof sizes;
const networks = {
  fast: null,
  slow: { offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 100_000 },
} as const;

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
  console.log(
    `${"  of which the first page load".padEnd(40)} ${kb(entry).toFixed(1).padStart(7)} KB   target < ${APP_JS_TARGET_KB} KB: ${kb(entry) < APP_JS_TARGET_KB ? "met" : "NOT met"}`,
  );
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

const signIn = (page: Page, email: string) => signInThroughTheForm(page, email, PASSWORD);

/** The page's CLS once it has settled: what a late image or row would still push is counted too. */
async function settledLayoutShift(page: Page): Promise<number> {
  await page.waitForTimeout(1500);
  return takeLayoutShift(page);
}

/** Image bytes a fully scrolled home page of the catalog loads, and what the same images would be as the 1280 JPEG. */
async function measureHomeImages(browser: Browser, baseURL: string, email: string, jpegBytes: number) {
  console.log(`\n== Images on a home page of ${CATALOG_TITLES} titles (every page of "All titles" scrolled in) ==`);
  for (const size of Object.keys(sizes) as SizeName[]) {
    const context = await browser.newContext({ ...sizes[size], baseURL });
    const page = await context.newPage();
    await signIn(page, email);
    const images: { url: string; bytes: number }[] = [];
    page.on("response", async (response) => {
      if (response.request().resourceType() !== "image") return;
      const body = await response.body().catch(() => Buffer.alloc(0));
      images.push({ url: response.url(), bytes: body.length });
    });
    await page.locator("[data-row=all] .card").first().waitFor();
    for (let i = 0; i < 40; i++) {
      const cards = await page.locator("[data-row=all] .card").count();
      await page.mouse.wheel(0, 4000);
      await page.evaluate("window.scrollTo(0, document.body.scrollHeight)");
      await page.waitForTimeout(300);
      if (cards >= CATALOG_TITLES && (await page.locator(".load-more button").count()) === 0) break;
    }
    await page.waitForLoadState("networkidle");
    const posters = images.filter((image) => /\/poster/.test(image.url));
    const total = posters.reduce((sum, image) => sum + image.bytes, 0);
    const widths = [...new Set(posters.map((image) => /poster-(\d+)w/.exec(image.url)?.[1] ?? "jpg"))].join(", ");
    const before = posters.length * jpegBytes;
    console.log(
      `${size.padEnd(8)} ${String(posters.length).padStart(3)} posters (${widths} px wide): ${kb(total).toFixed(0).padStart(5)} KB; as 1280-px JPEGs: ${kb(before).toFixed(0)} KB (${(before / Math.max(1, total)).toFixed(1)}x more)`,
    );
    await context.close();
  }
}

/** CLS of every page at both sizes. */
async function measureLayoutShift(browser: Browser, baseURL: string, email: string, videoId: string) {
  console.log(`\n== Layout shift per page (CLS, target < ${CLS_TARGET}) ==`);
  const pages: { name: string; path: string; ready: string; signedIn: boolean }[] = [
    { name: "landing", path: "/", ready: "#landing-plans", signedIn: false },
    { name: "sign-in", path: "/signin", ready: "form", signedIn: false },
    { name: "home", path: "/", ready: "[data-row=all] .card", signedIn: true },
    { name: "search", path: "/search?q=ladder", ready: "#search-results a", signedIn: true },
    { name: "title", path: `/title/${videoId}`, ready: "[data-testid=play]", signedIn: true },
    { name: "plans", path: "/plans", ready: ".plan", signedIn: true },
    { name: "watch", path: `/watch/${videoId}`, ready: ".player-controls", signedIn: true },
    { name: "not found", path: "/no/such/page", ready: "h1", signedIn: true },
  ];
  const results: Record<string, Record<SizeName, number>> = {};
  for (const size of Object.keys(sizes) as SizeName[]) {
    const visitor = await browser.newContext({ ...sizes[size], baseURL });
    const viewer = await browser.newContext({ ...sizes[size], baseURL });
    await recordLayoutShifts(visitor);
    await recordLayoutShifts(viewer);
    await signIn(await viewer.newPage(), email);
    for (const entry of pages) {
      const page = await (entry.signedIn ? viewer : visitor).newPage();
      await page.goto(entry.path);
      await page.locator(entry.ready).first().waitFor({ timeout: 30_000 });
      results[entry.name] = { ...results[entry.name], [size]: await settledLayoutShift(page) } as Record<SizeName, number>;
      await page.close();
    }
    await visitor.close();
    await viewer.close();
  }
  console.log(`${"page".padEnd(12)} ${"desktop".padStart(8)} ${"phone".padStart(8)}`);
  let worst = 0;
  for (const [name, values] of Object.entries(results)) {
    worst = Math.max(worst, values.desktop, values.phone);
    console.log(`${name.padEnd(12)} ${values.desktop.toFixed(3).padStart(8)} ${values.phone.toFixed(3).padStart(8)}`);
  }
  console.log(`worst page: ${worst.toFixed(3)}   target < ${CLS_TARGET}: ${worst < CLS_TARGET ? "met" : "NOT met"}`);
}

/** One press of Play in a new profile: milliseconds to the first frame, and the first video segment's rendition. */
async function playOnce(context: BrowserContext, email: string, videoId: string, network: (typeof networks)[keyof typeof networks]) {
  const page = await context.newPage();
  const segments: string[] = [];
  page.on("request", (request) => {
    const match = /\/hls\/(\d+p)\/[^/]+\.m4s$/.exec(new URL(request.url()).pathname);
    if (match?.[1]) segments.push(match[1]);
  });
  await signIn(page, email);
  await page.goto(`/title/${videoId}`);
  await page.getByTestId("play").waitFor();
  if (network) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", network);
  }
  await page.getByTestId("play").click();
  await waitForPage(page, "performance.getEntriesByName('reelstream:first-frame').length > 0", { timeout: 60_000 });
  const ms = (await page.evaluate(
    "performance.measure('first-frame', 'reelstream:play-pressed', 'reelstream:first-frame').duration",
  )) as number;
  // Leaving the player gives the screen back (sendBeacon), so the next round's play is not refused.
  await page.goto("/plans");
  return { ms, rung: segments[0] ?? "none" };
}

async function measureFirstFrame(browser: Browser, baseURL: string, email: string, videoId: string, ladder: string) {
  console.log("\n== Time to first frame after pressing Play, and the first segment's rendition ==");
  console.log(`ladder: ${ladder}; premium plan (no cap below 2160p); a new browser profile per round`);
  for (const size of Object.keys(sizes) as SizeName[]) {
    for (const [networkName, network] of Object.entries(networks)) {
      const samples: number[] = [];
      const rungs: string[] = [];
      for (let round = 1; round <= rounds; round++) {
        const context = await browser.newContext({ ...sizes[size], baseURL });
        const { ms, rung } = await playOnce(context, email, videoId, network);
        samples.push(ms);
        rungs.push(rung);
        await context.close();
        progress(`${size} ${networkName}`, round, rounds);
      }
      const s = summarize(samples);
      const target =
        networkName === "fast" ? `   target < ${FIRST_FRAME_TARGET_MS} ms: ${s.p50 < FIRST_FRAME_TARGET_MS ? "met" : "NOT met"}` : "";
      console.log(
        `${size.padEnd(8)} ${networkName.padEnd(5)} first frame p50 ${s.p50.toFixed(0).padStart(5)} ms, max ${Math.max(...samples)
          .toFixed(0)
          .padStart(5)} ms (n=${s.n}); first segment: ${[...new Set(rungs)].join(", ")}${target}`,
      );
    }
  }
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [path];
  });
}

async function main() {
  const assets = mkdtempSync(join(tmpdir(), "reelstream-bench-web-"));
  try {
    measureBundle(await buildWebApp(assets));
    // The test Worker: its test route puts the generated ladder into R2 the way the transcoder would.
    const [stack, ladder] = await Promise.all([startLocalStack({ main: testWorkerEntry, assets }), generateLadder(12)]);
    const browser = await launchChromium();
    try {
      const media = ladderMedia(ladder);
      const videoId = randomVideoId();
      await insertReadyVideo(stack.database, videoId, media);
      await uploadLadder(stack.url, videoId, ladder.dir);
      // 49 more titles with the transcoder's posters (and the master playlist, without which nothing of a title is served).
      const posterFiles = filesBelow(ladder.dir).filter((file) => /\/hls\/(poster[^/]*|master\.m3u8)$/.test(file));
      for (let i = 1; i < CATALOG_TITLES; i++) {
        const id = randomVideoId();
        await insertReadyVideo(stack.database, id, media);
        for (const file of posterFiles) {
          const path = file.slice(ladder.dir.length + 1);
          const response = await fetch(`${stack.url}/internal/test/media/${id}/${path}`, { method: "PUT", body: readFileSync(file) });
          if (response.status !== 204) throw new Error(`upload of ${path} failed: ${response.status}`);
        }
        progress("catalog", i + 1, CATALOG_TITLES);
      }
      const jpeg = posterFiles.find((file) => file.endsWith("/poster.jpg"));
      const viewer = await subscribedViewer(stack.url, "premium");
      const email = viewer.user.email;
      await measureHomeImages(browser, stack.url, email, jpeg ? statSync(jpeg).size : 0);
      await measureLayoutShift(browser, stack.url, email, videoId);
      const rungs = media.renditions.map((rendition) => `${rendition.height}p ${Math.round(rendition.bitrate / 1000)} kbit/s`).join(", ");
      await measureFirstFrame(browser, stack.url, email, videoId, rungs);
    } finally {
      await browser.close();
      await stack.stop();
      rmSync(ladder.root, { recursive: true, force: true });
    }
  } finally {
    rmSync(assets, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
