import { build, createLogger, createServer, type Logger, type ViteDevServer } from "vite";
import { repoRoot } from "./local-stack.ts";
import { prefixedLogger } from "./processes.ts";

const configFile = `${repoRoot}web/vite.config.ts`;

/** Vite's messages as `[web]` lines, like every other part of `npm start`. */
function webLogger(): Logger {
  const log = prefixedLogger("web", "blue");
  const base = createLogger("info", { allowClearScreen: false });
  const write = (message: string) => {
    for (const line of message.split("\n")) if (line.trim()) log(line);
  };
  return { ...base, info: write, warn: write, warnOnce: write, error: write, clearScreen: () => {} };
}

/** `npm run build`'s output (web/dist), or `outDir`: the files the Worker serves as static assets. */
export async function buildWebApp(outDir?: string): Promise<void> {
  await build({
    configFile,
    logLevel: "warn",
    customLogger: webLogger(),
    ...(outDir ? { build: { outDir, emptyOutDir: true } } : {}),
  });
}

/**
 * The Vite dev server for `npm start`: the web app with live reload, the API's paths proxied to
 * the Worker at `workerUrl`. `port` is a preference: a busy one moves to the next free port.
 */
export async function startWebDevServer(port: number, workerUrl: string): Promise<ViteDevServer> {
  process.env.WORKER_URL = workerUrl;
  const server = await createServer({ configFile, customLogger: webLogger(), server: { port, strictPort: false } });
  await server.listen();
  return server;
}
