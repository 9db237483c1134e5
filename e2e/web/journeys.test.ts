import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken } from "../../scripts/lib/upload-client.ts";
import { recordCspViolations, signInThroughTheForm, waitForPage } from "../../testing/chromium.ts";
import { recordLayoutShifts, takeLayoutShifts } from "../../testing/layout-shift.ts";
import { insertReadyVideo, randomVideoId } from "../../testing/playback-fixtures.ts";
import {
  accessibilityProblems,
  generateClip,
  launchChromium,
  noBrowser,
  screenshot,
  startWebStack,
  type ViewportName,
  viewports,
} from "./lib/browser.ts";

if (noBrowser) console.warn("[e2e] Chromium not found: skipping the web app journeys (apt-get install chromium)");

const PASSWORD = "correct horse battery staple";
/** Short-lived access tokens, so that the journeys live through silent refreshes. */
const ACCESS_TOKEN_TTL_SECONDS = 30;
const CLIP_SECONDS = 6;
/** Filler titles, so that "All titles" has a second page to load on scroll (12 a page). */
const FILLERS = 14;

type Stack = Awaited<ReturnType<typeof startWebStack>>;

/**
 * Every journey of the web app (issue 14), end to end in Debian's Chromium at a desktop size and
 * at 390×844: the app as `npm run build` makes it, served by the Worker (wrangler dev) as static
 * assets, a real tus upload transcoded by the Node transcoder, real playback with hls.js. On every
 * page axe-core must find no serious or critical violation, and a screenshot is saved.
 */
describe.skipIf(noBrowser)("the web app in Chromium", () => {
  let stack: Stack;
  let browser: Browser;
  const work = mkdtempSync(join(tmpdir(), "reelstream-web-e2e-"));
  let clip: string;

  beforeAll(async () => {
    // The transcoder is the real one; its fastest preset keeps the test short.
    process.env.TRANSCODER_PRESET = "ultrafast";
    [stack, browser, clip] = await Promise.all([
      startWebStack({ ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS), PROGRESS_FLUSH_SECONDS: "1" }),
      launchChromium(),
      generateClip(work, "harbour-lights", CLIP_SECONDS),
    ]);
    for (let i = 0; i < FILLERS; i++) {
      await insertReadyVideo(stack.database, randomVideoId(), { durationSeconds: 60 + i, renditions: [] });
    }
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Each context's Content-Security-Policy violations: `checkPage` expects none. */
  const cspViolations = new Map<BrowserContext, string[]>();

  /** A fresh browser profile at one of the two sizes, recording what the app asked the API. */
  async function openContext(size: ViewportName) {
    const context = await browser.newContext({ ...viewports[size], baseURL: stack.url });
    await recordLayoutShifts(context);
    cspViolations.set(context, await recordCspViolations(context));
    /** The access token the API last gave this profile: the app keeps it in memory only, out of a script's reach. */
    const session = { accessToken: "" };
    const calls: { method: string; path: string; status: number; body: string | null }[] = [];
    /** Video segments asked for, in order (`…/hls/480p/c0000-a1-00000.m4s`; init segments are `.mp4`). */
    const segments: string[] = [];
    context.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (/\/hls\/\d+p\/[^/]+\.m4s$/.test(path)) segments.push(path);
    });
    context.on("response", (response) => {
      const url = new URL(response.url());
      if (/^\/v1\/auth\/(signin|signup|refresh)$/.test(url.pathname) && response.ok()) {
        response.json().then(
          (body: { accessToken: string }) => {
            session.accessToken = body.accessToken;
          },
          () => {
            // The page navigated away before its body was read: that page's token went with it.
          },
        );
      }
      if (url.pathname.startsWith("/v1/")) {
        calls.push({
          method: response.request().method(),
          path: url.pathname,
          status: response.status(),
          body: response.request().postData(),
        });
      }
    });
    // What the pages gave navigator.sendBeacon, in order: Chromium reports no post data for a beacon's Blob
    // (playwright issue 12231), so `calls` has the answer and this the body.
    const beacons: { path: string; body: string }[] = [];
    await context.exposeBinding("recordBeacon", (_source, path: string, body: string) => beacons.push({ path, body }));
    await context.addInitScript(`{
      const send = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => {
        if (data instanceof Blob) void data.text().then((body) => window.recordBeacon(new URL(url, location.href).pathname, body));
        return send(url, data);
      };
    }`);
    return { context, calls, segments, beacons, session };
  }

  /** axe-core on the page as it is, and a screenshot named for the docs. */
  async function checkPage(page: Page, name: string, size: ViewportName) {
    expect(cspViolations.get(page.context()), `Content-Security-Policy violations by ${name} at ${size}`).toEqual([]);
    expect(await accessibilityProblems(page), `${name} at ${size}`).toEqual([]);
    // What moved since the last page checked, scored as CLS: a page may not push what a viewer reads.
    const shift = await takeLayoutShifts(page);
    expect(shift.score, `layout shift of ${name} at ${size}, moving ${shift.moved.join(", ")}`).toBeLessThan(0.1);
    await screenshot(page, `${name}-${size}`);
  }

  /** Waits until the upload's progress bar reaches `percent`. */
  const uploadedAtLeast = (page: Page, percent: number) =>
    waitForPage(page, `Number(document.querySelector("#upload-bar")?.getAttribute("value")) >= ${percent}`);

  const signIn = (page: Page, email: string) => signInThroughTheForm(page, email, PASSWORD);

  const api = async (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${stack.url}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
    });

  /** What each viewport's admin journey made, for its viewer journey. */
  const uploaded: Partial<Record<ViewportName, { id: string; title: string; adminEmail: string }>> = {};

  it("serves the app at every path outside the API's, and keeps unknown API paths JSON 404s", async () => {
    const navigate = { headers: { "Sec-Fetch-Mode": "navigate", Accept: "text/html" } };
    for (const path of ["/", "/title/abc", "/admin/videos/abc", "/no/such/page"]) {
      const response = await fetch(`${stack.url}${path}`, navigate);
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toContain('<div id="app"></div>');
    }
    // The Worker answers these, not the app: a media path without a signature is refused.
    for (const [path, status] of [
      ["/v1/nope", 404],
      ["/.well-known/nope", 404],
      ["/media/nope", 403],
    ] as const) {
      const response = await fetch(`${stack.url}${path}`, navigate);
      expect(response.status, path).toBe(status);
      expect(response.headers.get("Content-Type"), path).toContain("application/problem+json");
    }
    expect((await fetch(`${stack.url}/health`, navigate)).headers.get("Content-Type")).toContain("application/json");
    // Hashed assets are kept for a year without asking again; the page that names them is asked for every time.
    const html = await (await fetch(`${stack.url}/`, navigate)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${stack.url}${script}`)).headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect((await fetch(`${stack.url}/`, navigate)).headers.get("Cache-Control")).not.toContain("immutable");
  });

  describe.each(["desktop", "phone"] as const)("at %s size", (size) => {
    it("admin: creates a title, uploads with pause, resume and a reload, watches it transcode, reads the report, edits it", async () => {
      const adminEmail = `admin-${size}-${Date.now()}@example.com`;
      const token = await adminToken(stack.url, stack.database, { email: adminEmail, password: PASSWORD, name: `Admin ${size}` });
      // Subscribed, so that playing a title that is not ready answers 409 rather than 402.
      expect((await api("/v1/subscription", token, { method: "POST", body: JSON.stringify({ planId: "premium" }) })).status).toBe(201);
      const { context, calls, session } = await openContext(size);
      const page = await context.newPage();
      await signIn(page, adminEmail);

      // Create: a bad year is refused with the API's words beside the field; nothing typed is lost.
      await page.getByRole("link", { name: "Admin" }).click();
      await page.getByRole("heading", { name: "New title" }).waitFor();
      const title = `Harbour Lights ${size}`;
      await page.getByLabel("Title", { exact: true }).fill(title);
      await page.getByLabel("Summary").fill("A lighthouse keeper counts the ships that never arrive.");
      await page.getByLabel("Genres").fill("drama, mystery");
      await page.getByLabel("Release year").fill("19x4");
      await page.getByLabel("Cast").fill("Ada Brook, Sam Reyes");
      await page.getByRole("button", { name: "Create and upload" }).click();
      await page.locator("#field-releaseYear-error").waitFor();
      expect(await page.getByLabel("Release year").getAttribute("aria-invalid")).toBe("true");
      expect(await page.getByLabel("Title", { exact: true }).inputValue()).toBe(title);
      await checkPage(page, "admin-new", size);
      await page.getByLabel("Release year").fill("1994");
      await page.getByRole("button", { name: "Create and upload" }).click();
      await page.waitForURL(/\/admin\/videos\/[0-9a-z]{20}$/);
      const id = page.url().split("/").at(-1) ?? "";
      await page.locator("[data-state=awaiting-upload]").waitFor();
      await checkPage(page, "admin-video-new", size);

      // Playing a title that has no file yet: 409, in plain words.
      const early = await context.newPage();
      await early.goto(`/watch/${id}`);
      await early.locator(".refusal[data-status='409']").getByText("This title is not ready yet").waitFor();
      await checkPage(early, "watch-409", size);
      await early.close();

      // Upload through a slow link: pause, resume, then a reload in the middle and the same file again.
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 20,
        downloadThroughput: -1,
        // Slow enough to press Pause in the middle of the first chunk.
        uploadThroughput: 1_000_000,
      });
      const bar = page.locator("#upload-bar");
      const percent = async () => Number(await bar.getAttribute("value"));
      await page.getByLabel("Video file", { exact: true }).setInputFiles(clip);
      await uploadedAtLeast(page, 15);
      await page.getByRole("button", { name: "Pause" }).click();
      await page.getByText("Paused.").waitFor();
      const paused = await percent();
      await page.waitForTimeout(1000);
      expect(await percent()).toBe(paused);
      await checkPage(page, "admin-upload-paused", size);
      // The reload lands while the upload's last request is on its way, on any machine: that request
      // is held in the browser (never sent on), so the server has everything before it and no more.
      const clipBytes = statSync(clip).size;
      let holdLast = true;
      let holding = () => {};
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      await page.route("**/v1/admin/uploads/*", async (route) => {
        const request = route.request();
        const offset = Number(request.headers()["upload-offset"]);
        const last = request.method() === "PATCH" && offset + (request.postDataBuffer()?.length ?? 0) === clipBytes;
        // Held: neither sent on nor answered (unrouting would send it), until the reload drops it.
        if (holdLast && last) return holding();
        await route.continue();
      });
      await page.getByRole("button", { name: "Resume" }).click();
      await held;
      holdLast = false;
      await page.reload();
      await page.getByText("was interrupted").waitFor();
      await checkPage(page, "admin-upload-interrupted", size);
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await page.getByLabel("Video file", { exact: true }).setInputFiles(clip);
      // It goes on from the server's offset (the bytes sent before the reload are not sent again).
      const resumed = await page.getByText(/^Resuming: [\d.]+ MB of [\d.]+ MB were already uploaded\.$/).textContent();
      expect(Number(/Resuming: ([\d.]+) MB/.exec(resumed ?? "")?.[1])).toBeGreaterThan(0);
      // Done: the status leaves "uploading" (the upload form goes with it).
      await page.locator("[data-state=queued], [data-state=transcoding], [data-state=ready]").waitFor();

      // Transcoding, then ready with the quality report and the renditions.
      await page.locator("[data-state=ready]").waitFor({ timeout: 120_000 });
      await page.getByText("The source passed the quality check.").waitFor();
      expect(await page.locator(".renditions tbody tr").count()).toBeGreaterThanOrEqual(2);
      await checkPage(page, "admin-video-ready", size);
      const states = calls.filter((call) => call.path === `/v1/admin/videos/${id}`).length;
      expect(states).toBeGreaterThan(2);

      // Edit: the change is what viewers get at once.
      await page.getByLabel("Summary").fill("A lighthouse keeper counts the ships that never arrive, and one that does.");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.getByText("Saved.").waitFor();
      // The page's own token: the one made at the start has expired by now (30 s tokens).
      const viewerCopy = (await (await api(`/v1/videos/${id}`, session.accessToken)).json()) as { video: { summary: string } };
      expect(viewerCopy.video.summary).toContain("one that does");
      uploaded[size] = { id, title, adminEmail };
      await context.close();
    }, 240_000);

    it("viewer: signs up, plans, home, search, title, player (resume, heartbeats, storyboard, quality, keys, screens), errors, sign-out", async () => {
      const video = uploaded[size];
      if (!video) throw new Error("the admin journey did not finish");
      const email = `viewer-${size}-${Date.now()}@example.com`;
      const { context, calls, segments, beacons: sentBeacons, session } = await openContext(size);
      const page = await context.newPage();

      // Signed out, / is the landing page: what Reelstream is, the newest titles (with posters) and the plans.
      await page.goto("/");
      await page.getByRole("heading", { name: "Films and series, streamed." }).waitFor();
      await page.getByRole("heading", { name: "New on Reelstream" }).waitFor();
      expect(await page.locator(".plans .plan").count()).toBe(3);
      expect(await page.locator("main .grid .card").count()).toBeGreaterThan(0);
      await checkPage(page, "landing", size);

      // Sign-up: a weak password is refused beside the field, in the app's words.
      await page.goto("/search");
      await page.waitForURL(/\/signin\?next=%2Fsearch$/);
      await checkPage(page, "signin", size);
      await page.getByRole("link", { name: "Create an account" }).click();
      await page.getByLabel("Name").fill("Vera Viewer");
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.locator("#field-password-error").getByText("Use at least 10 characters.").waitFor();
      await checkPage(page, "signup-error", size);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.waitForURL((url) => url.pathname === "/search");

      // No plan yet: the player says so and where to get one.
      await page.goto(`/watch/${video.id}`);
      await page.locator(".refusal[data-status='402']").getByText("You need a plan to watch").waitFor();
      await checkPage(page, "watch-402", size);

      // Plans: what each allows; choose, change, cancel, choose again.
      await page.getByRole("link", { name: "See the plans" }).click();
      await page.getByText("Up to SD (480p)").waitFor();
      await page.getByText("4 screens at the same time").waitFor();
      await page.getByRole("button", { name: "Choose Standard" }).click();
      await page.getByText("Welcome to Standard.").waitFor();
      await page.getByRole("button", { name: "Switch to Basic" }).click();
      await page.getByText("You are now on Basic.").waitFor();
      await page.getByRole("button", { name: "Cancel subscription" }).click();
      await page.getByText(/^Canceled\. You can keep watching until /).waitFor();
      await checkPage(page, "plans-canceled", size);
      await page.getByRole("button", { name: "Choose Basic" }).click();
      await page.getByText("Your plan: Basic").waitFor();
      await checkPage(page, "plans", size);

      // Home: rows of posters, and more titles as the viewer scrolls.
      await page.getByRole("link", { name: "Home" }).click();
      const allTitles = page.locator("[data-row=all] .card");
      await page.locator("[data-row=new-releases] .card").first().waitFor();
      await waitForPage(page, "document.querySelectorAll('[data-row=all] .card').length >= 12");
      // On a phone the end of the list is far below: the second page waits for the scroll. (A desktop
      // window may already show the end, and then it loads at once.)
      if (size === "phone") expect(await allTitles.count()).toBe(12);
      await checkPage(page, "home", size);
      await page.locator(".load-more").scrollIntoViewIfNeeded();
      await waitForPage(page, "document.querySelectorAll('[data-row=all] .card').length > 12");
      // The fillers and this size's upload (the other size's is deleted by then, or not made yet).
      expect(await allTitles.count()).toBe(FILLERS + 1);
      expect(calls.filter((call) => call.path === "/v1/videos" && call.status === 200).length).toBeGreaterThanOrEqual(2);
      // Rows from the keyboard: → to the next card of a row, ↓ to the row below; a skip link jumps past a row.
      const firstCards = page.locator("[data-row=new-releases] .card");
      await firstCards.first().focus();
      await page.keyboard.press("ArrowRight");
      expect(await page.evaluate("document.activeElement?.getAttribute('href')")).toBe(await firstCards.nth(1).getAttribute("href"));
      await page.keyboard.press("ArrowDown");
      expect(await page.evaluate("document.activeElement?.closest('[data-row]')?.getAttribute('data-row')")).not.toBe("new-releases");
      await page.locator("[data-row=new-releases] .skip-row").focus();
      await page.keyboard.press("Enter");
      expect(await page.evaluate("document.activeElement?.id")).toBe("row-end-new-releases");
      // Posters come in the size the card needs (srcset), not the 1280-wide frame.
      const poster = await page
        .locator("[data-row=new-releases] img.poster")
        .first()
        .evaluate((image) => ({
          srcset: (image as unknown as { srcset: string }).srcset,
          natural: (image as unknown as { naturalWidth: number }).naturalWidth,
        }));
      if (poster.srcset) expect(poster.natural).toBeLessThanOrEqual(size === "phone" ? 640 : 320);

      // Search as you type, from the keyboard: "/" to the box, ↓ into the results, Enter opens.
      await page.keyboard.press("/");
      await page.waitForURL("**/search");
      // Two letters are not a search yet: the page says to keep typing and asks the API nothing.
      await page.keyboard.type("ha", { delay: 40 });
      await page.getByText("Keep typing").waitFor();
      expect(calls.filter((call) => call.path === "/v1/search")).toEqual([]);
      await page.keyboard.type(`rbour light ${size}`, { delay: 40 });
      const result = page.locator("#search-results a", { hasText: video.title });
      await result.waitFor();
      await checkPage(page, "search", size);
      await page.keyboard.press("ArrowDown");
      expect(await page.evaluate("document.activeElement?.textContent")).toContain(video.title);
      await page.keyboard.press("Enter");
      await page.waitForURL(`**/title/${video.id}`);

      // The title page, then the player.
      await page.getByRole("heading", { name: video.title }).waitFor();
      await checkPage(page, "title", size);
      await page.getByTestId("play").click();
      await page.waitForURL(`**/watch/${video.id}`);
      const media = page.locator("video");
      await waitForPage(page, "document.querySelector('video')?.currentTime >= 1.5", { timeout: 30_000 });
      // Keys: k pauses at once (the clip is short) and the pause reports the position.
      await page.keyboard.press("k");
      await waitForPage(page, "document.querySelector('video')?.paused === true");
      const position = await media.evaluate((element) => (element as unknown as { currentTime: number }).currentTime);
      const heartbeat = (call: (typeof calls)[number]) =>
        call.method === "PUT" && call.path === `/v1/videos/${video.id}/progress` && call.status === 204;
      await expect.poll(() => calls.filter(heartbeat).some((call) => JSON.parse(call.body ?? "{}").positionSeconds >= 1.5)).toBe(true);
      // The quality menu lists what the Basic plan allows: nothing above 480p.
      const qualities = await page.getByLabel("Quality").locator("option").allTextContents();
      expect(qualities[0]).toMatch(/^Auto/);
      const heights = qualities.slice(1).map((label) => Number.parseInt(label, 10));
      expect(heights.length).toBeGreaterThanOrEqual(1);
      expect(Math.max(...heights)).toBeLessThanOrEqual(480);
      // Storyboard thumbnails while scrubbing: the sprite tile for the time under the pointer.
      const seekBar = page.getByLabel("Seek");
      const box = await seekBar.boundingBox();
      if (!box) throw new Error("no seek bar");
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
      const tile = page.locator(".storyboard-image");
      await tile.waitFor();
      expect(await tile.evaluate((element) => element.style.backgroundImage)).toMatch(/\/media\/.+\.(jpg|jpeg|webp|png)/);
      await checkPage(page, "watch", size);
      await page.mouse.move(0, 0);

      await page.keyboard.press("m");
      await page.getByRole("button", { name: "Unmute" }).waitFor();
      // The controls: volume (a slider on desktop; a phone has its own buttons), speed; the time on a phone too; key hints only with a keyboard.
      if (size === "desktop") {
        await page.getByLabel("Volume").fill("0.5");
        expect(await media.evaluate((element) => (element as unknown as { volume: number }).volume)).toBeCloseTo(0.5, 1);
      }
      await page.getByLabel("Speed").selectOption("1.5");
      expect(await media.evaluate((element) => (element as unknown as { playbackRate: number }).playbackRate)).toBe(1.5);
      await page.getByLabel("Speed").selectOption("1");
      expect(await page.locator(".player .time").isVisible()).toBe(true);
      expect(await page.locator(".player .hint").textContent()).toContain("Keys:");
      // The first segment was of a rendition that fits (the clip's ladder is 240p to 720p, Basic allows 480p).
      expect(segments[0]).toMatch(/\/(360|480)p\//);

      // A second device of the same account on a one-screen plan: 429 in plain words, then "watch here instead".
      const other = await openContext(size);
      const second = await other.context.newPage();
      await signIn(second, email);
      await second.goto(`/watch/${video.id}`);
      await second.locator(".refusal[data-status='429']").getByText("All your screens are in use").waitFor();
      await checkPage(second, "watch-429", size);
      await second.getByRole("button", { name: "Watch here instead" }).click();
      await waitForPage(second, "document.querySelector('video')?.currentTime > 0", { timeout: 30_000 });
      // Paused at once: the 6 s clip playing on here meanwhile would reach its end and leave continue watching.
      await second.keyboard.press("k");
      // The first device learns why it stopped as soon as it plays again, in words, and can take the screen back.
      await page.keyboard.press("k");
      await page.locator(".refusal[data-code='stream-taken-over']").getByText("another device chose to watch there instead").waitFor();
      await checkPage(page, "watch-taken-over", size);
      await page.getByRole("button", { name: "Watch here" }).click();
      await waitForPage(page, "document.querySelector('video')?.currentTime > 0", { timeout: 30_000 });
      // Taking turns with no wait: leaving the player gives the screen back at once (sendBeacon), and the other device plays.
      await page.keyboard.press("k");
      await page.getByRole("link", { name: "Home" }).click();
      await expect.poll(() => calls.some((call) => call.path === `/v1/videos/${video.id}/play/release` && call.status === 204)).toBe(true);
      await second.goto(`/watch/${video.id}`);
      await waitForPage(second, "document.querySelector('video')?.currentTime > 0", { timeout: 30_000 });
      expect(await second.locator(".refusal").count()).toBe(0);
      await second.keyboard.press("k");
      await second.goto("/");
      await other.context.close();
      await page.goto("/");

      // Continue watching comes first on the home page, with a bar of how much is watched; the title page offers to resume, and does.
      await page.locator("[data-row=continue-watching]").getByText(video.title).waitFor();
      await page.locator("[data-row=continue-watching] .card-progress").first().waitFor();
      expect(await page.locator("[data-row=continue-watching] .card").first().getAttribute("href")).toBe(`/watch/${video.id}`);
      expect(await page.locator("[data-row]").first().getAttribute("data-row")).toBe("continue-watching");
      // My List from a card: a toggle named for the title; the "My List" row comes in under continue
      // watching at once, and the server's home page has it on the next load.
      const listToggle = page.locator("[data-row=continue-watching]").getByRole("button", { name: `My List: ${video.title}` });
      expect(await listToggle.getAttribute("aria-pressed")).toBe("false");
      await listToggle.click();
      await page.locator("[data-row=my-list]").getByText(video.title).waitFor();
      expect(await listToggle.getAttribute("aria-pressed")).toBe("true");
      await checkPage(page, "home-my-list", size);
      await page.reload();
      await page.locator("[data-row=my-list]").getByText(video.title).waitFor();
      expect(await page.locator("[data-row]").nth(1).getAttribute("data-row")).toBe("my-list");
      expect(calls.filter((call) => call.path === `/v1/my-list/${video.id}`).map((call) => `${call.method} ${call.status}`)).toEqual([
        "PUT 200",
      ]);
      // Leaving the player sent its quality-of-experience beacon: the startup time, and the second and more it played.
      const beacons = () => calls.filter((call) => call.method === "POST" && call.path === "/v1/qoe" && call.status === 204);
      await expect.poll(() => beacons().length).toBeGreaterThanOrEqual(1);
      const qoeBodies = () => sentBeacons.filter((beacon) => beacon.path === "/v1/qoe");
      await expect.poll(() => qoeBodies().length).toBeGreaterThanOrEqual(1);
      const [firstBeacon] = qoeBodies().map((beacon) => JSON.parse(beacon.body) as Record<string, unknown>);
      expect(firstBeacon).toMatchObject({
        startupMs: expect.any(Number),
        rebufferCount: expect.any(Number),
        rungSwitches: expect.any(Number),
      });
      expect(firstBeacon?.playingMs).toBeGreaterThanOrEqual(1000);
      await page.goto(`/title/${video.id}`);
      const resume = page.getByRole("link", { name: /^Resume from 0:0\d$/ });
      await page.getByRole("heading", { name: video.title }).waitFor();
      expect(await page.locator(".title-actions").textContent()).toMatch(/^Resume from 0:0\d/);
      // The title page's own state: on My List (pressed), and thumbs that say what they saved; both kept across a reload.
      const onList = page.getByRole("button", { name: "My List", exact: true });
      await onList.waitFor();
      expect(await onList.getAttribute("aria-pressed")).toBe("true");
      const like = page.getByRole("button", { name: "I like this" });
      expect(await like.getAttribute("aria-pressed")).toBe("false");
      await like.click();
      await page.getByRole("status").getByText("You liked this title.").waitFor();
      expect(await like.getAttribute("aria-pressed")).toBe("true");
      await page.getByRole("button", { name: "Not for me" }).click();
      await page.getByRole("status").getByText("You did not like this title.").waitFor();
      expect(await like.getAttribute("aria-pressed")).toBe("false");
      await checkPage(page, "title-rated", size);
      await page.reload();
      await page.getByRole("heading", { name: video.title }).waitFor();
      await waitForPage(page, `document.querySelector("[data-testid=thumbs-down]")?.getAttribute("aria-pressed") === "true"`);
      await onList.click();
      await waitForPage(page, `document.querySelector("[data-testid=my-list]")?.getAttribute("aria-pressed") === "false"`);
      await resume.click();
      await waitForPage(page, "!document.querySelector('video')?.paused && document.querySelector('video')?.currentTime > 0");
      expect(await media.evaluate((element) => (element as unknown as { currentTime: number }).currentTime)).toBeGreaterThanOrEqual(
        Math.floor(position) - 0.5,
      );
      // k pauses and plays again; → jumps 5 s.
      await page.keyboard.press("k");
      await waitForPage(page, "document.querySelector('video')?.paused === true");
      await page.keyboard.press("k");
      await waitForPage(page, "document.querySelector('video')?.paused === false");
      const before = await media.evaluate((element) => (element as unknown as { currentTime: number }).currentTime);
      await page.keyboard.press("ArrowRight");
      expect(await media.evaluate((element) => (element as unknown as { currentTime: number }).currentTime)).toBeGreaterThan(before + 1);

      // The end: watch again, or more like this. (On a phone, a double tap on the right jumps 10 s there.)
      if (size === "phone") {
        const stage = await page.locator("video").boundingBox();
        if (!stage) throw new Error("no video");
        await page.touchscreen.tap(stage.x + stage.width * 0.8, stage.y + stage.height / 2);
        await page.touchscreen.tap(stage.x + stage.width * 0.8, stage.y + stage.height / 2);
        expect(await page.locator(".player .hint").textContent()).toContain("Double-tap");
      }
      await page.getByRole("heading", { name: `You watched “${video.title}”` }).waitFor({ timeout: 30_000 });
      await checkPage(page, "watch-end", size);
      await page.getByRole("button", { name: "Watch again" }).click();
      await waitForPage(page, "document.querySelector('video')?.currentTime > 0", { timeout: 30_000 });
      expect(await media.evaluate((element) => (element as unknown as { currentTime: number }).currentTime)).toBeLessThan(3);

      // A place that could not be saved (offline) is saved again once the network is back, and the notice goes.
      await context.setOffline(true);
      await page.keyboard.press("k");
      await page.locator("[data-save-error]").getByText("Your place is not saved yet: no connection.").waitFor();
      await checkPage(page, "watch-not-saved", size);
      await context.setOffline(false);
      await page.locator("[data-save-error]").waitFor({ state: "detached" });

      // A slow network: the player says it is loading instead of showing a black box.
      const slow = await context.newCDPSession(page);
      await slow.send("Network.enable");
      await slow.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 800,
        downloadThroughput: 40_000,
        uploadThroughput: 40_000,
      });
      await page.goto(`/watch/${video.id}?from=start`);
      await page
        .locator(".player[data-buffering=true] .player-buffering")
        .getByText(/Loading…|Buffering…/)
        .waitFor();
      await checkPage(page, "watch-buffering", size);
      await slow.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await slow.detach();

      // A token the API refuses: one refresh and the same request again, unnoticed by the viewer.
      // The token lives in the page's memory only: the next /v1/home goes out with a forged one instead.
      await page.route(
        "**/v1/home*",
        (route) => route.continue({ headers: { ...route.request().headers(), authorization: "Bearer not-a-token" } }),
        { times: 1 },
      );
      const callsBefore = calls.length;
      await page.getByRole("link", { name: "Home", exact: true }).click();
      await page.locator("[data-row=new-releases] .card").first().waitFor();
      const after = calls.slice(callsBefore).map((call) => `${call.path} ${call.status}`);
      const refused = after.indexOf("/v1/home 401");
      expect(refused).toBeGreaterThanOrEqual(0);
      expect(after.slice(refused)).toEqual(expect.arrayContaining(["/v1/auth/refresh 200", "/v1/home 200"]));

      // Silent refresh before expiry: idle past the token's lifetime, the next request just works.
      const refreshed = calls.filter((call) => call.path === "/v1/auth/refresh").length;
      await expect
        .poll(() => calls.filter((call) => call.path === "/v1/auth/refresh").length, {
          timeout: ACCESS_TOKEN_TTL_SECONDS * 1000,
          interval: 500,
        })
        .toBeGreaterThan(refreshed);
      expect(calls.filter((call) => call.path === "/v1/auth/refresh").every((call) => call.status === 200)).toBe(true);

      // Offline: the page says so and offers a retry, which works once the network is back.
      await context.setOffline(true);
      await page.getByRole("link", { name: "Search" }).click();
      await page.keyboard.type("harbour", { delay: 20 });
      await page.getByText("No connection.").waitFor();
      await checkPage(page, "offline", size);
      await context.setOffline(false);
      await page.getByRole("button", { name: "Try again" }).click();
      await page.locator("#search-results a", { hasText: video.title }).waitFor();

      // Not found, with a way home.
      await page.goto("/no/such/page");
      await page.getByRole("heading", { name: "Nothing here" }).waitFor();
      await checkPage(page, "not-found", size);
      // A session that ends by itself (signed out elsewhere) says so on the sign-in page and keeps the email.
      expect((await api("/v1/auth/signout", session.accessToken, { method: "POST" })).status).toBe(204);
      await page.getByRole("link", { name: "Home", exact: true }).click();
      await page.getByText("Your session has ended, so you were signed out.").waitFor();
      expect(await page.getByLabel("Email").inputValue()).toBe(email);
      await checkPage(page, "session-ended", size);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((url) => url.pathname === "/");

      // Sign out: the session really ends.
      const token = session.accessToken;
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL("**/signin");
      expect((await api("/v1/me", token)).status).toBe(401);
      await context.close();
    }, 300_000);

    it("admin: deletes the title after a confirmation", async () => {
      const video = uploaded[size];
      if (!video) throw new Error("the admin journey did not finish");
      const { context, session } = await openContext(size);
      const page = await context.newPage();
      await signIn(page, video.adminEmail);
      await page.goto(`/admin/videos/${video.id}`);
      await page.getByRole("button", { name: "Delete this title" }).click();
      await page.getByRole("dialog").getByText("This cannot be undone.").waitFor();
      await checkPage(page, "admin-delete", size);
      await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
      await page.getByText(`“${video.title}” was deleted.`).waitFor();
      const gone = await fetch(`${stack.url}/v1/videos/${video.id}`, { headers: { Authorization: `Bearer ${session.accessToken}` } });
      expect(gone.status).toBe(404);
      await context.close();
    }, 120_000);
  });
});
