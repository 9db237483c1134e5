import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { chromiumPath, launchChromium, noBrowser } from "../testing/chromium.ts";
import { type HlsPage, type HlsPageGlobals, startHlsPage } from "../testing/hls-page.ts";
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

if (noBrowser) console.warn(`[e2e] ${chromiumPath} not found: skipping the browser playback test (apt-get install chromium)`);

/**
 * The signed ladder, played by a real player: Debian's Chromium with hls.js, from another origin
 * (CORS), starting at `resumeAt`. A real stack (wrangler dev on the test Worker, PGlite), the
 * transcoder's ladder in R2.
 */
describe.skipIf(noBrowser)("playback end to end: Chromium + hls.js", () => {
  let stack: LocalStack;
  let ladder: GeneratedLadder;
  let site: HlsPage;

  beforeAll(async () => {
    [stack, ladder, site] = await Promise.all([startLocalStack({ main: testWorkerEntry }), generateLadder(12), startHlsPage()]);
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
      await tab.goto(site.url);
      const result = await tab.evaluate(
        async ({ manifestUrl, resumeAt }) => {
          const { Hls, document } = globalThis as unknown as HlsPageGlobals;
          const video = document.getElementById("video");
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
