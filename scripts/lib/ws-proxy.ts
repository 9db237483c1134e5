import { createConnection } from "node:net";
import { WebSocketServer } from "ws";

export interface WsProxy {
  port: number;
  /** Value for the Worker's `DATABASE_WS_PROXY`: host:port/path, as `neonConfig.wsProxy` expects. */
  address: string;
  stop(): Promise<void>;
}

/**
 * The WebSocket-to-TCP bridge that Neon runs in front of its Postgres, for a local Postgres.
 * The Neon serverless driver speaks the Postgres protocol over a WebSocket; this forwards each
 * socket to `?address=host:port` so the same driver reaches PGlite or a real local server.
 * Only loopback targets are allowed: it is a development tool, never an open relay.
 */
export async function startWsProxy(options: { port?: number } = {}): Promise<WsProxy> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  wss.on("connection", (ws, request) => {
    const target = new URL(request.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const match = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(target);
    if (!match) {
      ws.close(1008, "only loopback Postgres addresses are proxied");
      return;
    }
    const tcp = createConnection({ host: match[1] === "[::1]" ? "::1" : match[1], port: Number(match[2]) });
    tcp.setNoDelay(true);
    const pending: Buffer[] = [];
    tcp.on("connect", () => {
      for (const chunk of pending) tcp.write(chunk);
      pending.length = 0;
    });
    ws.on("message", (data: Buffer) => {
      if (tcp.connecting) pending.push(data);
      else tcp.write(data);
    });
    tcp.on("data", (data) => ws.send(data));
    tcp.on("close", () => ws.close());
    tcp.on("error", () => ws.terminate());
    ws.on("close", () => tcp.destroy());
    ws.on("error", () => tcp.destroy());
  });
  const address = wss.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}/v2`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
