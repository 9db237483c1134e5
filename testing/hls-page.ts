import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/**
 * A page of its own origin holding `<video id="video">` and hls.js (its UMD build, a global
 * `Hls`): where the browser tests play HLS in Chromium, cross-origin from the Worker as a real
 * player on another site would be (CORS included).
 */
export interface HlsPage {
  url: string;
  close(): void;
}

/**
 * The page's globals as a test's `tab.evaluate` uses them. The project compiles without DOM types,
 * so the page is described as far as the tests use it.
 *
 * @example
 * await tab.evaluate(async (manifestUrl) => {
 *   const { Hls, document } = globalThis as unknown as HlsPageGlobals;
 *   const hls = new Hls();
 *   hls.loadSource(manifestUrl);
 *   hls.attachMedia(document.getElementById("video") as never);
 * }, manifestUrl);
 */
export interface HlsPageGlobals {
  Hls: typeof import("hls.js").default;
  document: { getElementById(id: string): { currentTime: number; play(): Promise<void> } };
}

const page = `<!doctype html><meta charset="utf-8"><video id="video" muted playsinline></video>
<script src="/hls.js"></script>`;

/** Serves the page on a free port of 127.0.0.1. */
export async function startHlsPage(): Promise<HlsPage> {
  const hlsJs = readFileSync(createRequire(import.meta.url).resolve("hls.js/dist/hls.min.js"));
  const server = createServer((request, response) => {
    if (request.url === "/hls.js") response.writeHead(200, { "Content-Type": "text/javascript" }).end(hlsJs);
    else response.writeHead(200, { "Content-Type": "text/html" }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}
