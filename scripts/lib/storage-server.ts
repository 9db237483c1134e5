import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { FsStorage } from "../../transcoder/src/fs-storage.ts";

/**
 * The Worker's internal storage endpoints as HttpStorage expects them, served from an FsStorage
 * folder: what the transcoder talks to in tests until (and besides) the Worker's own version.
 * It streams both ways, pages its listings, and can be told to fail or to slow down.
 */
export interface StorageServer {
  baseUrl: string;
  /** Content-Type of every PUT, by key. */
  contentTypes: Map<string, string>;
  /** Completed PUTs so far. */
  puts(): number;
  /** Bytes of each object's body sent so far (GETs, whole or ranged), by key. */
  bytesRead: Map<string, number>;
  /** Every GET of an object: its key and Range header. */
  reads: { key: string; range: string | null }[];
  /** The bearer tokens each object was read, measured or written with, by key. */
  authorizations: Map<string, Set<string>>;
  /** The next `count` requests answer `status` (503 unless told). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

export interface StorageServerOptions {
  token: string;
  /** A second token that opens only GET and HEAD of masters (`masters/…`), as the Worker's source grant does. */
  sourceToken?: string;
  /** Listing page size, small in tests so that paging is exercised. */
  pageSize?: number;
  /** Delay before answering each PUT, to catch a job in the middle of uploading. */
  putDelayMs?: number;
  /** Delay before sending an object's bytes: a slow download. */
  getDelayMs?: number;
}

export async function startStorageServer(storage: FsStorage, options: StorageServerOptions): Promise<StorageServer> {
  const contentTypes = new Map<string, string>();
  const bytesRead = new Map<string, number>();
  const reads: StorageServer["reads"] = [];
  const authorizations = new Map<string, Set<string>>();
  let puts = 0;
  let failures = 0;
  let failureStatus = 503;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://storage");
    const sourceRead =
      options.sourceToken !== undefined &&
      request.headers.authorization === `Bearer ${options.sourceToken}` &&
      (request.method === "GET" || request.method === "HEAD") &&
      url.pathname.startsWith("/internal/storage/masters/");
    if (request.headers.authorization !== `Bearer ${options.token}` && !sourceRead) return send(response, 401, { error: "bad token" });
    if (failures > 0) {
      failures--;
      request.resume();
      return send(response, failureStatus, { error: "try again" });
    }
    if (url.pathname === "/internal/storage") {
      const prefix = url.searchParams.get("prefix") ?? "";
      if (request.method === "DELETE") {
        await storage.deletePrefix(prefix);
        return send(response, 204);
      }
      const keys = await storage.list(prefix);
      const start = Number(url.searchParams.get("cursor") ?? 0);
      const pageSize = options.pageSize ?? 1000;
      const end = start + pageSize;
      return send(response, 200, { keys: keys.slice(start, end), ...(end < keys.length ? { cursor: String(end) } : {}) });
    }
    if (!url.pathname.startsWith("/internal/storage/")) return send(response, 404, { error: "no route" });
    const key = url.pathname.slice("/internal/storage/".length).split("/").map(decodeURIComponent).join("/");
    const path = storage.pathFor(key);
    authorizations.set(key, (authorizations.get(key) ?? new Set()).add((request.headers.authorization ?? "").replace(/^Bearer /, "")));
    if (request.method === "GET" || request.method === "HEAD") {
      const found = await stat(path).catch(() => null);
      if (!found) return send(response, 404, { error: "no object" });
      if (request.method === "HEAD") return void response.writeHead(200, { "content-length": found.size, "accept-ranges": "bytes" }).end();
      if (options.getDelayMs) await sleep(options.getDelayMs);
      // Ranges as R2 (and the Worker's internal storage) answer them: `bytes=a-b` or `bytes=a-`.
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
      reads.push({ key, range: request.headers.range ?? null });
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Math.min(Number(range[2]), found.size - 1) : found.size - 1;
      if (range && start >= found.size) {
        return void response.writeHead(416, { "content-range": `bytes */${found.size}` }).end();
      }
      response.writeHead(range ? 206 : 200, {
        "content-length": end - start + 1,
        "accept-ranges": "bytes",
        ...(range ? { "content-range": `bytes ${start}-${end}/${found.size}` } : {}),
      });
      // Counted as the bytes go out: a reader that hangs up early is charged only what it got.
      const body = createReadStream(path, { start, end });
      body.on("data", (chunk) => bytesRead.set(key, (bytesRead.get(key) ?? 0) + chunk.length));
      await pipeline(body, response).catch(() => undefined);
      return;
    }
    if (request.method === "PUT") {
      if (!request.headers["content-length"]) return send(response, 411, { error: "length required" });
      await mkdir(dirname(path), { recursive: true });
      await pipeline(request, createWriteStream(`${path}.part`));
      await rename(`${path}.part`, path);
      contentTypes.set(key, request.headers["content-type"] ?? "");
      if (options.putDelayMs) await sleep(options.putDelayMs);
      puts++;
      return send(response, 200, {});
    }
    return send(response, 405, { error: "method" });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => send(response, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    contentTypes,
    bytesRead,
    reads,
    authorizations,
    puts: () => puts,
    failNext: (count, status = 503) => {
      failures = count;
      failureStatus = status;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  if (response.headersSent) return void response.destroy();
  if (body === undefined) return void response.writeHead(status).end();
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
