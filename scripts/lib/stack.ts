import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import type { DatabaseConnection } from "./local-stack.ts";
import { repoRoot } from "./local-stack.ts";
import { spawnPrefixed, stopChild, waitForHttp } from "./processes.ts";

export interface StackOptions {
  port: number;
  database: DatabaseConnection;
  /** Where miniflare keeps KV, R2, Durable Object and queue data. */
  persistTo: string;
  /** Extra `--var` bindings (bench keys, test settings). */
  vars?: Record<string, string>;
  transcoderPort?: number;
}

export interface RunningStack {
  url: string;
  children: ChildProcess[];
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once("error", reject)
      .listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
      .once("error", () => resolve(false))
      .once("listening", () => server.close(() => resolve(true)))
      .listen(port, "127.0.0.1");
  });
}

/**
 * Starts `wrangler dev` (and the transcoder, once it exists) against a database that is already
 * up and migrated. Used by `npm start`, the benchmarks and the start-up smoke test.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const node = process.execPath;
  const transcoderEntry = `${repoRoot}transcoder/src/server.ts`;
  const transcoderPort = options.transcoderPort ?? 8788;
  const vars: Record<string, string> = {
    DATABASE_URL: options.database.url,
    // The transcoder calls back PUBLIC_BASE_URL/internal/storage: it must name this Worker's port.
    PUBLIC_BASE_URL: `http://localhost:${options.port}`,
    // The queue consumer posts jobs here; without it, it would look for the production container.
    ...(existsSync(transcoderEntry) ? { TRANSCODER_URL: `http://127.0.0.1:${transcoderPort}` } : {}),
    ...options.vars,
  };
  if (options.database.wsProxy) vars.DATABASE_WS_PROXY = options.database.wsProxy;
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const children = [
    spawnPrefixed(
      "worker",
      "cyan",
      node,
      [
        `${repoRoot}node_modules/wrangler/bin/wrangler.js`,
        "dev",
        "--port",
        String(options.port),
        "--ip",
        "127.0.0.1",
        "--persist-to",
        options.persistTo,
        "--show-interactive-dev-session=false",
        ...varArgs,
      ],
      {
        cwd: repoRoot,
        // No network here for the `cf` object or telemetry; miniflare uses a placeholder.
        env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" },
      },
    ),
  ];
  if (existsSync(transcoderEntry)) {
    children.push(
      spawnPrefixed("transcoder", "yellow", node, ["--experimental-strip-types", "--no-warnings", transcoderEntry], {
        cwd: repoRoot,
        env: { PORT: String(transcoderPort) },
      }),
    );
  }
  const url = `http://localhost:${options.port}`;
  return {
    url,
    children,
    stop: async () => {
      await Promise.all(children.map((child) => stopChild(child)));
    },
  };
}

export { waitForHttp };
