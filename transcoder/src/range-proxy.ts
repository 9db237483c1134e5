import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { STORAGE_RANGE_MAX_BYTES } from "../../workers/transcoding/contract.ts";

/**
 * ffmpeg 5.1's HTTP client asks for open ranges (`Range: bytes=N-`) at every open and seek, and
 * hangs up when it has read what it wanted. An open range costs the server what is left of the
 * file unless it stops with its reader (the local stack's R2 does not), and the bytes in flight
 * when the reader hangs up are read for nothing. So ffmpeg reads storage through this proxy, on
 * 127.0.0.1 in the transcoder's own process: it answers ffmpeg's open range as one response,
 * and fetches it from storage in closed windows (`bytes=N-M`) one after another, the first small
 * (a seek that reads a few packets costs `firstWindowBytes`) and each next one twice as large up
 * to `maxWindowBytes` (a sequential read costs a request per `maxWindowBytes`). When ffmpeg hangs
 * up, the window in flight is aborted and no other one is asked for.
 *
 * It forwards only to the storage bases registered with it (`register`), GET and HEAD only, and
 * passes the request's `Authorization` on, so it holds no grant and reaches nothing the task's
 * storage does not.
 */
export interface RangeProxy {
  /** The local base URL that stands for `upstreamBase` (e.g. the Worker's origin). */
  register(upstreamBase: string): string;
  /** Its own origin on the loopback (`http://127.0.0.1:port`): the transcoder's egress rule lets it through. */
  readonly origin: string;
  /** Requests sent upstream and body bytes received from them, since the start. */
  readonly stats: { requests: number; bytes: number };
  close(): Promise<void>;
}

export interface RangeProxyOptions {
  firstWindowBytes?: number;
  maxWindowBytes?: number;
}

export const defaultFirstWindowBytes = 256 * 1024;
/** The storage route serves no more in one read. */
export const defaultMaxWindowBytes = STORAGE_RANGE_MAX_BYTES;

export async function startRangeProxy(options: RangeProxyOptions = {}): Promise<RangeProxy> {
  const firstWindow = options.firstWindowBytes ?? defaultFirstWindowBytes;
  const maxWindow = options.maxWindowBytes ?? defaultMaxWindowBytes;
  const upstreams: string[] = [];
  const stats = { requests: 0, bytes: 0 };

  const upstreamFetch = (url: string, init: RequestInit) => {
    stats.requests++;
    return fetch(url, init);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const match = /^\/u(\d+)(\/[^?#]*(?:\?.*)?)$/.exec(request.url ?? "");
    const base = match ? upstreams[Number(match[1])] : undefined;
    if (!match || base === undefined) return void response.writeHead(404).end();
    if (request.method !== "GET" && request.method !== "HEAD") return void response.writeHead(405, { allow: "GET, HEAD" }).end();
    const url = `${base}${match[2]}`;
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (request.headers.authorization) headers.authorization = request.headers.authorization;
    const controller = new AbortController();
    response.once("close", () => controller.abort());

    if (request.method === "HEAD") {
      const answer = await upstreamFetch(url, { method: "HEAD", headers, signal: controller.signal });
      return void response.writeHead(answer.status, pickHeaders(answer.headers)).end();
    }
    const asked = parseRange(request.headers.range);
    if (asked === "invalid") return void response.writeHead(416).end();
    let start = asked?.start ?? 0;
    let window = firstWindow;
    const windowEnd = (last: number | null) => Math.min(start + window - 1, last ?? Number.POSITIVE_INFINITY);
    const first = await upstreamFetch(url, {
      headers: { ...headers, range: `bytes=${start}-${windowEnd(asked?.end ?? null)}` },
      signal: controller.signal,
    });
    const total = totalOf(first.headers.get("content-range"));
    if (first.status !== 206 || total === null || !first.body) {
      // Not a window of a known object (404, 416, a refusal): ffmpeg gets the answer as it is.
      response.writeHead(first.status, pickHeaders(first.headers));
      return void response.end(Buffer.from(await first.arrayBuffer()));
    }
    const last = Math.min(asked?.end ?? total - 1, total - 1);
    const rest = pickHeaders(first.headers);
    rest["content-length"] = String(last - start + 1);
    if (asked) rest["content-range"] = `bytes ${start}-${last}/${total}`;
    else delete rest["content-range"];
    response.writeHead(asked ? 206 : 200, rest);
    let body: ReadableStream<Uint8Array> | null = first.body;
    while (body) {
      for await (const chunk of body) {
        stats.bytes += chunk.length;
        start += chunk.length;
        if (!response.write(chunk)) await once(response, "drain", { signal: controller.signal });
      }
      if (start > last || controller.signal.aborted) break;
      window = Math.min(window * 2, maxWindow);
      const next = await upstreamFetch(url, {
        headers: { ...headers, range: `bytes=${start}-${windowEnd(last)}` },
        signal: controller.signal,
      });
      if (next.status !== 206) throw new Error(`storage answered ${next.status} to a window at byte ${start}`);
      body = next.body;
    }
    response.end();
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      // ffmpeg hung up (the abort lands here), or storage failed mid-stream: the socket goes, and
      // ffmpeg's reconnection asks again from the byte it had reached.
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    register(upstreamBase) {
      const base = upstreamBase.replace(/\/+$/, "");
      let index = upstreams.indexOf(base);
      if (index < 0) index = upstreams.push(base) - 1;
      return `http://127.0.0.1:${port}/u${index}`;
    },
    origin: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `bytes=N-` or `bytes=N-M` (what ffmpeg sends); no header: the whole object. */
function parseRange(header: string | undefined): { start: number; end: number | null } | null | "invalid" {
  if (header === undefined) return null;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match) return "invalid";
  const start = Number(match[1]);
  const end = match[2] ? Number(match[2]) : null;
  return end !== null && end < start ? "invalid" : { start, end };
}

function totalOf(contentRange: string | null): number | null {
  const match = /^bytes \d+-\d+\/(\d+)$/.exec(contentRange ?? "");
  return match ? Number(match[1]) : null;
}

const passedHeaders = ["content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified"];

function pickHeaders(headers: Headers): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of passedHeaders) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  return picked;
}
