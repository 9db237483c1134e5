import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import production from "./index.ts";

/**
 * The production Worker (workers/index.ts, called here directly, not the test Worker the other
 * tests run) has no test routes, whatever APP_ENV says (here "test"): they live only in the test
 * Worker (testing/worker/). An unknown path is a 404 for every method, with no `Allow` naming a
 * route, and a PUT stores nothing.
 */
async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await production.fetch(new Request(`http://reelstream.test${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const videoId = "abcdefghij0123456789";
const paths = [
  `/internal/test/media/${videoId}/hls/master.m3u8`,
  "/internal/test/viewer-state/some-user",
  "/internal/test",
  "/internal/test/",
];
const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

describe("no test routes in the production Worker", () => {
  it.each(paths)("answers 404 without Allow for %s, with every method", async (path) => {
    for (const method of methods) {
      const response = await call(path, { method, body: ["POST", "PUT", "PATCH"].includes(method) ? "#EXTM3U\n" : undefined });
      expect(response.status, method).toBe(404);
      expect(response.headers.get("Allow"), method).toBeNull();
      if (method !== "HEAD") expect(response.headers.get("Content-Type"), method).toContain("application/problem+json");
      await response.body?.cancel();
    }
    expect(await env.MEDIA.head(`videos/${videoId}/hls/master.m3u8`)).toBeNull();
  });

  it("still answers 405 with Allow for a known route and a wrong method, so the 404s above are not that machinery failing", async () => {
    const response = await call("/v1/plans", { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toContain("GET");
  });
});
