import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";

/**
 * The local stack's edge: what Cloudflare's network does in front of the Worker and `wrangler dev`
 * does not. Clients reach the stack here; `wrangler dev` listens on a loopback port of its own.
 *
 * - `CF-Connecting-IP` is the address of the client's connection, as Cloudflare sets it (it
 *   overwrites whatever a client sent). miniflare keeps a client's own header, so without this a
 *   client named any address it liked and dodged every per-address limit. A test or benchmark
 *   standing in for many clients (`trustClientAddress`) may still name them.
 * - `/cdn-cgi/…` and `/__scheduled` are answered 404 here, as Cloudflare never hands them to a
 *   Worker: `wrangler dev` serves its test triggers there (`/cdn-cgi/local/scheduled` runs the
 *   cron), unauthenticated. The stack runs the cron on wrangler's own port instead.
 */
export interface Edge {
  /** `http://localhost:<port>`: the stack's public address. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface EdgeOptions {
  port: number;
  /** The port `wrangler dev` listens on (127.0.0.1). */
  upstreamPort: number;
  /** Keep a `CF-Connecting-IP` the client sent (harnesses that stand in for many clients). Default false. */
  trustClientAddress?: boolean;
}

/** Paths Cloudflare answers itself and never passes to a Worker. */
const platformPath = /^\/(cdn-cgi(\/|$)|__scheduled(\/|\?|$))/;
/** Headers only Cloudflare's network sets; a client's copies are dropped. */
const edgeHeaders = ["cf-connecting-ip", "true-client-ip", "x-real-ip", "cf-ray", "cf-ipcountry", "cf-visitor", "cf-worker"];

export function isPlatformPath(url: string): boolean {
  return platformPath.test(url);
}

/** The address of a connection as Cloudflare writes it (an IPv4 client mapped into IPv6 as IPv4). */
function clientAddress(remote: string | undefined): string {
  if (!remote) return "127.0.0.1";
  return remote.startsWith("::ffff:") ? remote.slice("::ffff:".length) : remote;
}

/** The request's headers as the Worker should see them. */
export function edgeRequestHeaders(
  headers: IncomingHttpHeaders,
  remote: string | undefined,
  trustClientAddress = false,
): IncomingHttpHeaders {
  const claimed = headers["cf-connecting-ip"];
  const forwarded: IncomingHttpHeaders = { ...headers };
  for (const name of edgeHeaders) delete forwarded[name];
  forwarded["cf-connecting-ip"] = trustClientAddress && typeof claimed === "string" && claimed ? claimed : clientAddress(remote);
  return forwarded;
}

function headerLines(headers: IncomingHttpHeaders): string {
  return Object.entries(headers)
    .flatMap(([name, value]) =>
      Array.isArray(value) ? value.map((one) => `${name}: ${one}`) : value === undefined ? [] : [`${name}: ${value}`],
    )
    .join("\r\n");
}

/** Starts the edge on `port` (127.0.0.1), forwarding to `wrangler dev` on `upstreamPort`. */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { upstreamPort, trustClientAddress = false } = options;
  const server = createServer((request, response) => {
    if (isPlatformPath(request.url ?? "/")) {
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("Not found\n");
      request.resume();
      return;
    }
    const upstream = httpRequest(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        method: request.method,
        path: request.url,
        headers: edgeRequestHeaders(request.headers, request.socket.remoteAddress, trustClientAddress),
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        answer.pipe(response);
      },
    );
    upstream.on("error", () => {
      if (!response.headersSent)
        response.writeHead(502, { "Content-Type": "text/plain; charset=utf-8" }).end("The Worker is not answering\n");
      else response.destroy();
    });
    response.on("close", () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.pipe(upstream);
  });
  // WebSockets and other upgrades: the same header rules, then the bytes both ways.
  server.on("upgrade", (request, socket: Duplex, head: Buffer) => {
    if (isPlatformPath(request.url ?? "/")) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    const upstream = connect(upstreamPort, "127.0.0.1", () => {
      const headers = edgeRequestHeaders(request.headers, request.socket.remoteAddress, trustClientAddress);
      upstream.write(`${request.method} ${request.url} HTTP/1.1\r\n${headerLines(headers)}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on("error", close);
    socket.on("error", close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://localhost:${options.port}`,
    port: options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
