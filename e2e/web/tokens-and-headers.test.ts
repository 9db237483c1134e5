import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordCspViolations, signInThroughTheForm } from "../../testing/chromium.ts";
import { COMMON_SECURITY_HEADERS, WEB_APP_CSP } from "../../workers/platform/security-headers.ts";
import { REFRESH_COOKIE, REFRESH_COOKIE_PATH } from "../../workers/users/refresh-cookie.ts";
import { launchChromium, noBrowser, startWebStack } from "./lib/browser.ts";

const PASSWORD = "correct horse battery staple";

/**
 * Issue 21, finding 2, in Debian's Chromium against a real stack (the app as `npm run build` makes
 * it, served by wrangler dev): the web app's files carry the security headers, and a script
 * injected into the page (`page.evaluate`) finds neither token anywhere it can read, while a
 * reload keeps the viewer signed in through the HttpOnly refresh cookie.
 */
describe.skipIf(noBrowser)("the web app's tokens and headers in Chromium", () => {
  let stack: Awaited<ReturnType<typeof startWebStack>>;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startWebStack({}), launchChromium()]);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function signedInPage(): Promise<{ context: BrowserContext; page: Page; email: string; violations: string[]; tokens: string[] }> {
    const email = `tokens-${crypto.randomUUID()}@example.com`;
    const signup = await fetch(`${stack.url}/v1/auth/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD, name: "Tess" }),
    });
    expect(signup.status).toBe(201);
    const context = await browser.newContext({ baseURL: stack.url });
    const violations = await recordCspViolations(context);
    /** Every token the API handed this browser, read off the wire. */
    const tokens: string[] = [];
    context.on("response", (response) => {
      if (!/\/v1\/auth\/(signin|refresh)$/.test(response.url()) || !response.ok()) return;
      const gone = () => {
        // The page navigated away before its answer was read: that page's token went with it.
      };
      response.headerValue("set-cookie").then((cookie) => {
        const value = new RegExp(`${REFRESH_COOKIE}=([^;]+)`).exec(cookie ?? "")?.[1];
        if (value) tokens.push(decodeURIComponent(value));
      }, gone);
      response.json().then((body: { accessToken: string }) => tokens.push(body.accessToken), gone);
    });
    const page = await context.newPage();
    await signInThroughTheForm(page, email, PASSWORD);
    return { context, page, email, violations, tokens };
  }

  /** What a script on the page can read: cookies, both storages, and the page's own markup. */
  const readable = (page: Page) =>
    page.evaluate(`({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      html: document.documentElement.outerHTML,
    })`) as Promise<Record<string, string>>;

  it("serves the app's files, its client-side routes and the API with the security headers", async () => {
    const navigate = { headers: { "Sec-Fetch-Mode": "navigate", Accept: "text/html" } };
    const html = await (await fetch(`${stack.url}/`, navigate)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(script && style).toBeTruthy();
    for (const path of ["/", "/title/abc", "/no/such/page", "/favicon.svg", script, style]) {
      const response = await fetch(`${stack.url}${path}`, navigate);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Content-Security-Policy"), path).toBe(WEB_APP_CSP);
      for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS))
        expect(response.headers.get(name), `${path} ${name}`).toBe(value);
    }
    for (const path of ["/v1/plans", "/health", "/v1/nope"]) {
      const response = await fetch(`${stack.url}${path}`);
      expect(response.headers.get("Content-Security-Policy"), path).toMatch(/^default-src 'none'/);
      expect(response.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
    }
    expect(WEB_APP_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it("keeps both tokens out of a page script's reach, and keeps the viewer signed in across a reload", async () => {
    const { context, page, violations, tokens } = await signedInPage();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(tokens.length).toBeGreaterThanOrEqual(2);

    // The browser took the cookie over http://localhost (a secure context), HttpOnly and for the refresh path only.
    const cookie = (await context.cookies()).find((candidate) => candidate.name === REFRESH_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: REFRESH_COOKIE_PATH });

    const check = async () => {
      const seen = await readable(page);
      for (const token of tokens) {
        for (const [where, text] of Object.entries(seen)) expect(text.includes(token), `a token in ${where}`).toBe(false);
      }
      expect(seen.cookie).not.toContain(REFRESH_COOKIE);
      expect(seen.local).not.toMatch(/rsr_|eyJ/);
      expect(seen.session).not.toMatch(/rsr_|eyJ/);
    };
    await check();

    // A reload: the app has no token in storage, so it refreshes with the cookie and is still signed in.
    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await check();
    // A new tab of the same browser is signed in too.
    const tab = await context.newPage();
    await tab.goto("/plans");
    await tab.getByRole("button", { name: "Sign out" }).waitFor();

    // What an injected script can still do while the page is open: mint an access token, never take the refresh token away.
    const minted = (await page.evaluate(() =>
      fetch("/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).then((r) => r.json()),
    )) as { accessToken?: string; refreshToken?: string };
    expect(minted.accessToken).toBeTypeOf("string");
    expect(minted.refreshToken).toBeUndefined();

    // Sign-out removes the cookie: a reload is signed out.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/signin");
    expect((await context.cookies()).some((candidate) => candidate.name === REFRESH_COOKIE)).toBe(false);
    await page.goto("/search");
    await page.waitForURL(/\/signin\?next=%2Fsearch$/);
    expect(violations).toEqual([]);
    await context.close();
  }, 120_000);
});
