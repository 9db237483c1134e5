import { build, createLogger, createServer, type Logger, type ViteDevServer } from "vite";
import { repoRoot } from "./local-stack/index.ts";
import { prefixedLogger } from "./processes.ts";

const configFile = `${repoRoot}web/vite.config.ts`;

/** Vite's messages as `[web]` lines, like every other part of `npm start`. */
function webLogger(level: "info" | "warn" = "info"): Logger {
  const log = prefixedLogger("web", "blue");
  const base = createLogger(level, { allowClearScreen: false });
  const write = (message: string) => {
    for (const line of message.split("\n")) if (line.trim()) log(line);
  };
  return { ...base, info: level === "info" ? write : () => {}, warn: write, warnOnce: write, error: write, clearScreen: () => {} };
}

/** A chunk of the built app: its file, whether it loads with the page or on demand, its modules. */
export interface WebChunk {
  fileName: string;
  code: string;
  isEntry: boolean;
  isDynamicEntry: boolean;
  moduleIds: string[];
  imports: string[];
}

/** `npm run build`'s output (web/dist), or `outDir`: the files the Worker serves as static assets. */
export async function buildWebApp(outDir?: string): Promise<WebChunk[]> {
  const output = await build({
    configFile,
    logLevel: "warn",
    customLogger: webLogger("warn"),
    ...(outDir ? { build: { outDir, emptyOutDir: true } } : {}),
  });
  const bundles = Array.isArray(output) ? output : [output];
  return bundles.flatMap((bundle) =>
    "output" in bundle ? bundle.output.flatMap((item) => (item.type === "chunk" ? [item as WebChunk] : [])) : [],
  );
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
