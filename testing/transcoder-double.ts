import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * For the Worker's tests in workerd, which cannot run the transcoder: two HTTP servers standing in
 * for two transcoder instances, as far as the Worker talks to them. `POST /tasks` answers 202 and
 * records the task the Worker sent (its body, grant and callback URL included), or 429 while the
 * instance is marked busy, or never while it is marked hanging; `DELETE /tasks/{id}` answers 204
 * and records the cancel. A test reads what was dispatched (`GET /__double/log`), marks instances
 * busy, hanging or refusing tasks (`POST /__double/busy`, `/__double/hang`, `/__double/refuse`), and
 * then plays the transcoder's side by calling the Worker's real callback route with the task's
 * grant. Nothing of the Worker is replaced: its dispatch goes over HTTP, its callbacks are real.
 *
 * One double per test run, shared by every test file (the plugin asks for its options per file),
 * which run in parallel: each file talks to it under its own path prefix (`/scope/{id}/…`, set in
 * workers/test/transcoding.ts) and has its own log and busy, hanging or refusing marks, so one
 * file's reset or busy instance never shows in another's. The prefix also makes each file's
 * instances others to the Worker (an instance's name is its URL), so one file's running tasks
 * never hold another's instances.
 */

interface Recorded {
  instance: number;
  method: string;
  path: string;
  body: unknown;
  /** The request's Authorization header, if any. */
  authorization?: string;
}

const slot = Symbol.for("reelstream.transcoder-double");
type Holder = { [slot]?: Promise<{ urls: string[]; close: () => Promise<void> }> };

export function startTranscoderDouble(instances = 2): Promise<{ urls: string[]; close: () => Promise<void> }> {
  const holder = globalThis as Holder;
  holder[slot] ??= start(instances);
  return holder[slot];
}

export async function stopTranscoderDouble(): Promise<void> {
  const holder = globalThis as Holder;
  const running = holder[slot];
  delete holder[slot];
  await (await running)?.close();
}

interface ScopeState {
  log: Recorded[];
  busy: Set<number>;
  hanging: Set<number>;
  /** Instances that answer every task 400, as the transcoder answers a task its contract refuses. */
  refusing: Set<number>;
}

async function start(instances: number) {
  const scopes = new Map<string, ScopeState>();
  const stateOf = (scope: string): ScopeState => {
    const state = scopes.get(scope) ?? { log: [], busy: new Set<number>(), hanging: new Set<number>(), refusing: new Set<number>() };
    scopes.set(scope, state);
    return state;
  };
  const servers: Server[] = [];
  for (let instance = 0; instance < instances; instance++) {
    const server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      const full = new URL(request.url ?? "/", "http://double");
      const scoped = /^\/scope\/([^/]+)(\/.*)$/.exec(full.pathname);
      const url = { pathname: scoped?.[2] ?? full.pathname };
      const { log, busy, hanging, refusing } = stateOf(scoped?.[1] ?? "");
      const send = (status: number, body?: unknown) =>
        response.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? undefined : JSON.stringify(body));
      if (url.pathname === "/__double/log") return send(200, log);
      if (url.pathname === "/__double/busy" && request.method === "POST") {
        const { instance: which, busy: isBusy } = JSON.parse(text) as { instance: number; busy: boolean };
        if (isBusy) busy.add(which);
        else busy.delete(which);
        return send(204);
      }
      if (url.pathname === "/__double/hang" && request.method === "POST") {
        const { instance: which, hang } = JSON.parse(text) as { instance: number; hang: boolean };
        if (hang) hanging.add(which);
        else hanging.delete(which);
        return send(204);
      }
      if (url.pathname === "/__double/refuse" && request.method === "POST") {
        const { instance: which, refuse } = JSON.parse(text) as { instance: number; refuse: boolean };
        if (refuse) refusing.add(which);
        else refusing.delete(which);
        return send(204);
      }
      if (url.pathname === "/__double/reset" && request.method === "POST") {
        log.length = 0;
        busy.clear();
        hanging.clear();
        refusing.clear();
        return send(204);
      }
      if (url.pathname === "/tasks" && request.method === "POST") {
        const body = JSON.parse(text) as { taskId: string; attempt: number };
        if (busy.has(instance)) return send(429, { error: "busy with task other", running: { taskId: "other", attempt: 1 } });
        // An instance that takes the request and never answers (a wedged container).
        if (hanging.has(instance)) return;
        // A task this side's contract refuses (a Worker bug): what the real transcoder answers.
        if (refusing.has(instance)) return send(400, { error: "invalid task", errors: ["chunk.index: must be a number"] });
        log.push({ instance, method: "POST", path: url.pathname, body, authorization: request.headers.authorization });
        return send(202, { taskId: body.taskId, attempt: body.attempt, state: "started" });
      }
      if (url.pathname.startsWith("/tasks/") && request.method === "DELETE") {
        log.push({ instance, method: "DELETE", path: url.pathname, body: null });
        return send(204);
      }
      send(404, { error: "not found" });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
  }
  return {
    urls: servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}
