import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`); never a downloaded browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** CI installs it and must run the browser tests; a developer without it is told and they are skipped. */
export const noBrowser = !existsSync(chromiumPath) && !process.env.CI;

/**
 * Headless Debian Chromium for the browser tests and `bench:web`. The background-networking flags
 * keep it from calling Google's hosts, which this machine cannot reach.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Headless Chromium has no user to click; a real browser lets the Play click's activation through.
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

/** Signs in through the web app's own form, as a viewer does, and waits for the home page. */
export async function signInThroughTheForm(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === "/");
}

/**
 * Every Content-Security-Policy violation in `context`'s pages, as it happens (the document's
 * `securitypolicyviolation` event, and Chromium's console line for what the event does not reach):
 * the browser tests expect none, so a change the policy blocks (an inline script, a host it does
 * not list) fails them instead of breaking the app in production only.
 */
export async function recordCspViolations(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  await context.exposeBinding("recordCspViolation", (source, line: string) => violations.push(`${source.page?.url()}: ${line}`));
  await context.addInitScript(`document.addEventListener("securitypolicyviolation", (event) =>
    window.recordCspViolation(event.effectiveDirective + " refused " + (event.blockedURI || "inline") + " (" + event.sourceFile + ":" + event.lineNumber + ")"));`);
  context.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text()))
      violations.push(`${message.page()?.url()}: ${message.text()}`);
  });
  return violations;
}

/**
 * Waits until `expression` holds in `page`, checked at every frame (as `page.waitForFunction`
 * does). Playwright's `waitForFunction` compiles its predicate in the page with `new Function`,
 * which the web app's policy refuses (no `'unsafe-eval'`); a script evaluated through the DevTools
 * protocol, as here, is not subject to the page's policy.
 *
 * @example
 * await waitForPage(page, "document.querySelector('video')?.currentTime > 0");
 */
export async function waitForPage(page: Page, expression: string, options: { timeout?: number } = {}): Promise<void> {
  const timeout = options.timeout ?? 30_000;
  await page.evaluate(`new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(${JSON.stringify(`timed out after ${timeout} ms waiting for `)} + ${JSON.stringify(expression)})), ${timeout});
    const check = () => {
      if (${expression}) { clearTimeout(timer); resolve(true); } else requestAnimationFrame(check);
    };
    check();
  })`);
}
