import { describe, expect, it } from "vitest";
import { call } from "../test/helpers.ts";

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * /docs runs third-party script on the API's origin (which the web app shares): every script must
 * come from this origin (so the page works without the internet), be pinned to one version with
 * Subresource Integrity, and the page's policy must allow nothing else.
 */
describe("GET /docs", () => {
  it("loads only a pinned, integrity-checked script, under a policy that allows nothing else", async () => {
    const response = await call("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("/openapi.json");

    const external = [...html.matchAll(/<script\b([^>]*)\bsrc="([^"]+)"([^>]*)>/g)].map((match) => ({
      src: match[2] ?? "",
      attributes: `${match[1]} ${match[3]}`,
    }));
    expect(external.length).toBeGreaterThan(0);
    for (const script of external) {
      // This origin's file, named for an exact version (not a range, not "latest"), never a CDN's.
      expect(script.src).toMatch(/^\/assets\/[\w.-]+-\d+\.\d+\.\d+\.js$/);
      expect(script.attributes).toMatch(/integrity="sha(384|512)-[A-Za-z0-9+/]{40,}={0,2}"/);
    }
    expect(html).not.toMatch(/<script\b[^>]*type="module"/);

    const policy = response.headers.get("Content-Security-Policy") ?? "";
    const scriptSources = /(?:^|;\s*)script-src ([^;]+)/.exec(policy)?.[1]?.split(/\s+/) ?? [];
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1] ?? "");
    const allowed = ["'self'", ...(await Promise.all(inline.map(async (code) => `'sha256-${await sha256Base64(code)}'`)))];
    expect(scriptSources.sort()).toEqual(allowed.sort());
    expect(policy).toMatch(/default-src 'none'/);
    expect(policy).toMatch(/connect-src 'self'/);
    expect(policy).toMatch(/frame-ancestors 'none'/);
  });
});
