import { createServer, type Server, type Socket } from "node:net";

/**
 * A "database" that accepts connections and never says a word: what a hung Postgres (or one
 * failing over behind its address) looks like to a client. The Worker's tests point
 * `DATABASE_URL` at it (`TEST_HUNG_DATABASE_URL`) to check that a route answers its 503 within the
 * documented deadline. One per test process, like the test databases.
 */
const slot = Symbol.for("reelstream.hung-database");
type Holder = { [slot]?: Promise<{ url: string; server: Server; sockets: Set<Socket> }> };

export function startHungDatabase(): Promise<{ url: string }> {
  const holder = globalThis as Holder;
  holder[slot] ??= new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    });
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, server, sockets });
    });
  });
  return holder[slot];
}

export async function stopHungDatabase(): Promise<void> {
  const holder = globalThis as Holder;
  const running = holder[slot];
  delete holder[slot];
  if (!running) return;
  const { server, sockets } = await running;
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
