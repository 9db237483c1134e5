import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { API_REFERENCE_SCRIPT } from "../workers/platform/api-reference.ts";
import { WEB_APP_HEADERS } from "../workers/platform/security-headers.ts";

/** The API's own paths (wrangler.toml `run_worker_first`): the dev server hands them to the Worker. */
export const apiPaths = ["/v1", "/media", "/health", "/openapi.json", "/docs", "/.well-known", "/internal"];

/**
 * `/docs` without the internet: Scalar's standalone bundle becomes a file of the app at the URL the
 * Worker's page names (workers/platform/api-reference.ts), after checking it is the reviewed file
 * (its SRI hash), and the dev server serves the same bytes.
 */
function apiReferenceScript(): Plugin {
  // The package's `exports` list neither the browser bundle nor package.json: found beside its entry (dist/index.js).
  const file = join(dirname(createRequire(import.meta.url).resolve("@scalar/api-reference")), "browser/standalone.js");
  const read = () => {
    const bytes = readFileSync(file);
    const integrity = `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
    if (integrity !== API_REFERENCE_SCRIPT.integrity) {
      throw new Error(`${file} is not the reviewed API reference bundle (${integrity}); see workers/platform/api-reference.ts`);
    }
    return bytes;
  };
  return {
    name: "reelstream-api-reference",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: API_REFERENCE_SCRIPT.url.slice(1), source: read() });
    },
    configureServer(server) {
      server.middlewares.use(API_REFERENCE_SCRIPT.url, (_request, response) => {
        response.setHeader("Content-Type", "text/javascript");
        response.end(read());
      });
    },
  };
}

/**
 * Workers Static Assets' headers file (docs/web.md "Serving"), written from the Worker's own list
 * (workers/platform/security-headers.ts), so the app's files and the API's answers carry one policy
 * and no copy can drift. Files under /assets/ are named by a hash of their content (Vite) or carry
 * their version (the API reference bundle): a new build is a new name, so a browser and the edge
 * may keep them for a year without asking again.
 */
export function assetHeadersFile(): string {
  const rule = (path: string, headers: Record<string, string>) =>
    [path, ...Object.entries(headers).map(([name, value]) => `  ${name}: ${value}`)].join("\n");
  return `${[
    "# Written by `npm run build` (web/vite.config.ts) from workers/platform/security-headers.ts: edit that file.",
    rule("/*", WEB_APP_HEADERS),
    rule("/assets/*", { "Cache-Control": "public, max-age=31536000, immutable" }),
  ].join("\n")}\n`;
}

function assetHeaders(): Plugin {
  return {
    name: "reelstream-asset-headers",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "_headers", source: assetHeadersFile() });
    },
  };
}

/**
 * The web app: Preact + TypeScript, JSX compiled by Vite's own transform (no Babel preset).
 * `npm run build` writes web/dist, which the Worker serves as static assets; `npm start` runs
 * the dev server with live reload and proxies the API paths to the local Worker (WORKER_URL).
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [apiReferenceScript(), assetHeaders()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // hls.js is its own chunk, loaded with the player; it is larger than Vite's warning threshold.
    chunkSizeWarningLimit: 600,
    // Rolldown's slow-plugin report fires on a busy machine; the build's size is what bench:web measures.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  server: {
    proxy: Object.fromEntries(
      apiPaths.map((path) => [path, { target: process.env.WORKER_URL ?? "http://localhost:8787", changeOrigin: false }]),
    ),
  },
});
