import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

/** The transcoder's server as it runs in the container: a Node process of its own, with type stripping. */
export interface RunningServer {
  url: string;
  child: ChildProcess;
  logs: string[];
  workDir: string;
}

const serverEntry = join(import.meta.dirname, "..", "src", "server.ts");

/** Starts `server.ts` (or `entry`) on a free port; the process joins `children` so a test can kill it. */
export async function startServerProcess(
  children: ChildProcess[],
  options: { workDir: string; env?: Record<string, string>; entry?: string },
): Promise<RunningServer> {
  const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", options.entry ?? serverEntry], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", TRANSCODER_WORK_DIR: options.workDir, ...options.env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const logs: string[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    lines.on("line", (line) => {
      logs.push(line);
      const match = /^listening on (http:\/\/[\d.]+:\d+)/.exec(line);
      if (match) resolve(match[1] as string);
    });
  });
  return { url, child, logs, workDir: options.workDir };
}

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A stand-in for the Worker's callback endpoint: records every callback, answers as told. */
export interface CallbackServer<T> {
  url: string;
  received: { body: T; authorization: string | undefined; status: number }[];
  /** The status to answer a callback with (default 204). */
  answer: (body: T) => number;
  close(): Promise<void>;
}

export async function startCallbackServer<T>(): Promise<CallbackServer<T>> {
  const received: CallbackServer<T>["received"] = [];
  const state: CallbackServer<T> = { url: "", received, answer: () => 204, close: async () => {} };
  const readBody = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
  };
  const server = createServer((request, response) => {
    readBody(request).then(
      (body) => {
        const status = state.answer(body);
        received.push({ body, authorization: request.headers.authorization, status });
        response.writeHead(status, { "content-type": "application/json" }).end(status === 204 ? undefined : JSON.stringify({ status }));
      },
      () => response.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
