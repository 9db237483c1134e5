import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isTranscoderRoute, TranscoderContainer } from "./transcoder-container.ts";

/**
 * The container's one way out (internet off): its outbound handler, as `@cloudflare/containers`
 * registers it, refuses everything but the Worker's own storage and callback routes.
 */
describe("the transcoder container's outbound handler", () => {
  const base = env.PUBLIC_BASE_URL;

  it("is registered with the package (a static assignment, not a field that would shadow its setter)", () => {
    expect(typeof TranscoderContainer.outbound).toBe("function");
  });

  it("refuses any other origin, and other paths of the Worker's, without a request", async () => {
    const handler = TranscoderContainer.outbound;
    if (!handler) throw new Error("no outbound handler");
    for (const url of ["http://169.254.169.254/latest/meta-data", "https://example.com/internal/storage/x", `${base}/v1/videos`]) {
      const response = await handler(new Request(url), env, { containerId: "transcoder-0", className: "TranscoderContainer" });
      expect(response.status, url).toBe(403);
      expect(await response.text()).toMatch(/^outbound request to .* refused: a transcoder reaches only the Worker's storage$/);
    }
  });

  it("lets through only the storage and callback routes on the Worker's origin", () => {
    const allowed = (path: string, origin = base) => isTranscoderRoute(new URL(path, origin), base);
    expect(allowed("/internal/storage/videos/v1/hls/c0000-a1-240p-0.m4s")).toBe(true);
    expect(allowed("/internal/storage?prefix=videos/v1/hls/")).toBe(true);
    expect(allowed("/internal/transcode/callback")).toBe(true);
    expect(allowed("/internal/storage-other")).toBe(false);
    expect(allowed("/v1/admin/videos")).toBe(false);
    expect(allowed("/internal/storage/x", "http://127.0.0.2:9")).toBe(false);
  });
});
