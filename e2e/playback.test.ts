import { readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, repoRoot, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { chromiumPath, launchChromium, noBrowser } from "../testing/chromium.ts";
import {
  type GeneratedLadder,
  generateLadder,
  insertReadyVideo,
  ladderMedia,
  randomVideoId,
  subscribedViewer,
  uploadLadder,
} from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";

const page = `<!doctype html><meta charset="utf-8"><video id="video" muted playsinline></video>
<script src="/hls.js"></script>`;

if (noBrowser) console.warn(`[e2e] ${chromiumPath} not found: skipping the browser playback test (apt-get install chromium)`);

/**
 * The signed ladder, played by a real player: Debian's Chromium with hls.js, from another origin
 * (CORS), starting at `resumeAt`. A real stack (wrangler dev on the test Worker, PGlite), the
 * transcoder's ladder in R2.
 */
describe.skipIf(noBrowser)("playback end to end: Chromium + hls.js", () => {
  let stack: LocalStack;
  let ladder: GeneratedLadder;
  let site: Server;
  let siteUrl: string;

  beforeAll(async () => {
    [stack, ladder] = await Promise.all([startLocalStack({ main: testWorkerEntry }), generateLadder(12)]);
    const hlsJs = readFileSync(`${repoRoot}node_modules/hls.js/dist/hls.min.js`);
    site = createServer((request, response) => {
      if (request.url === "/hls.js") response.writeHead(200, { "Content-Type": "text/javascript" }).end(hlsJs);
      else response.writeHead(200, { "Content-Type": "text/html" }).end(page);
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  }, 180_000);

  afterAll(async () => {
    site?.close();
    await stack?.stop();
    if (ladder) rmSync(ladder.root, { recursive: true, force: true });
  });

  it("plays the signed, plan-capped ladder from resumeAt with no fatal player error", async () => {
    const videoId = randomVideoId();
    await insertReadyVideo(stack.database, videoId, ladderMedia(ladder));
    expect(await uploadLadder(stack.url, videoId, ladder.dir)).toBeGreaterThan(10);
    const viewer = await subscribedViewer(stack.url, "basic");
    const auth = { Authorization: `Bearer ${viewer.accessToken}` };
    const heartbeat = await fetch(`${stack.url}/v1/videos/${videoId}/progress`, {
      method: "PUT",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ positionSeconds: 4 }),
    });
    expect(heartbeat.status).toBe(204);
    const play = await fetch(`${stack.url}/v1/videos/${videoId}/play`, { headers: auth });
    expect(play.status).toBe(200);
    const playback = (await play.json()) as { manifestUrl: string; resumeAt: number; maxHeight: number };
    expect(playback).toMatchObject({ resumeAt: 4, maxHeight: 480 });
    // PUBLIC_BASE_URL says localhost:8787; this stack listens elsewhere.
    const manifestUrl = `${stack.url}${new URL(playback.manifestUrl).pathname}`;

    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(siteUrl);
      const result = await tab.evaluate(
        async ({ manifestUrl, resumeAt }) => {
          // hls.js as the page loaded it (a global from its UMD build), typed as far as this test uses it.
          // (The project compiles without DOM types: the page's globals are described as far as used.)
          const page = globalThis as unknown as {
            Hls: typeof import("hls.js").default;
            document: { getElementById(id: string): { currentTime: number; play(): Promise<void> } };
          };
          const Hls = page.Hls;
          const video = page.document.getElementById("video");
          const fatal: string[] = [];
          const levels: number[] = [];
          const hls = new Hls({ startPosition: resumeAt });
          hls.on(Hls.Events.ERROR, (_, data) => {
            if (data.fatal) fatal.push(`${data.type}: ${data.details}`);
          });
          hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
            levels.push(...data.levels.map((level) => level.height));
            void video.play();
          });
          hls.loadSource(manifestUrl);
          hls.attachMedia(video as never);
          const started = Date.now();
          let firstTime = -1;
          while (Date.now() - started < 30_000 && fatal.length === 0) {
            await new Promise((resolve) => setTimeout(resolve, 250));
            if (firstTime < 0 && video.currentTime > 0) firstTime = video.currentTime;
            if (firstTime >= 0 && video.currentTime > firstTime + 2) break;
          }
          return { fatal, levels, firstTime, currentTime: video.currentTime, supported: Hls.isSupported() };
        },
        { manifestUrl, resumeAt: playback.resumeAt },
      );
      expect(result.supported).toBe(true);
      expect(result.fatal).toEqual([]);
      // The basic plan's master lists nothing above 480p.
      expect(Math.max(...result.levels)).toBeLessThanOrEqual(480);
      expect(result.firstTime).toBeGreaterThanOrEqual(3.5);
      expect(result.currentTime).toBeGreaterThan(result.firstTime + 2);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
