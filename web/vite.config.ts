import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The API's own paths (wrangler.toml `run_worker_first`): the dev server hands them to the Worker. */
export const apiPaths = ["/v1", "/media", "/health", "/openapi.json", "/docs", "/.well-known", "/internal"];

/**
 * The web app: Preact + TypeScript, JSX compiled by Vite's own transform (no Babel preset).
 * `npm run build` writes web/dist, which the Worker serves as static assets; `npm start` runs
 * the dev server with live reload and proxies the API paths to the local Worker (WORKER_URL).
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
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
