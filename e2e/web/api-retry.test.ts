import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { onRetryWaits, type RetryWait, withRetryAfter } from "../../web/src/api/retry.ts";

/**
 * The web app's retry of a 503 with `Retry-After` (web/src/api/retry.ts), with a real fetch against
 * a small local server that answers as the Worker does while the database is down. Time is the
 * injected wait's: it records each wait and what the app lists meanwhile, and returns at once.
 */
const WORDS = "We can't sign you in right now: our account service is unavailable. Try again in 30 seconds.";

let server: Server;
let base: string;
/** How many 503s the server gives before it answers 200; and the requests it saw. */
let outageAnswers = 0;
let seen: { method: string; body: string }[] = [];
let retryAfterHeader: string | null = "30";

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      seen.push({ method: request.method ?? "", body });
      if (seen.length <= outageAnswers) {
        response.writeHead(503, {
          "Content-Type": "application/problem+json",
          ...(retryAfterHeader === null ? {} : { "Retry-After": retryAfterHeader }),
        });
        response.end(JSON.stringify({ title: "Service temporarily unavailable", status: 503, detail: WORDS, code: "unavailable" }));
        return;
      }
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
  retryAfterHeader = "30";
});

/** An injected clock: records each wait and the words the app lists during it. */
function recordingClock() {
  const waited: number[] = [];
  const listed: RetryWait[][] = [];
  let now = 1_000_000;
  return {
    waited,
    listed,
    now: () => now,
    wait: async (ms: number) => {
      const stop = onRetryWaits((waits) => listed.push([...waits]));
      stop();
      waited.push(ms);
      now += ms;
    },
  };
}

const signIn = () => fetch(`${base}/v1/auth/signin`, { method: "POST", body: JSON.stringify({ email: "a@example.com" }) });

describe("withRetryAfter", () => {
  it("asks a repeatable request again after Retry-After, growing, and shows the API's words meanwhile", async () => {
    outageAnswers = 2;
    const clock = recordingClock();
    const response = await withRetryAfter(signIn, { repeatable: true, wait: clock.wait, now: clock.now });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(3);
    expect(clock.waited).toEqual([30_000, 60_000]);
    const [first, second] = clock.listed;
    expect(first?.map((wait) => [wait.problem.problem.detail, wait.retryAt - 1_000_000, wait.attempt])).toEqual([[WORDS, 30_000, 1]]);
    expect(second?.map((wait) => [wait.problem.problem.detail, wait.attempt])).toEqual([[WORDS, 2]]);
    // Done waiting: nothing is listed any more.
    const after: RetryWait[][] = [];
    onRetryWaits((waits) => after.push([...waits]))();
    expect(after).toEqual([[]]);
  });

  it("gives up after its retries, with waits no longer than the cap, and answers the last 503", async () => {
    outageAnswers = 100;
    const clock = recordingClock();
    const response = await withRetryAfter(signIn, {
      repeatable: true,
      wait: clock.wait,
      now: clock.now,
      maxRetries: 3,
      maxWaitSeconds: 90,
    });
    expect(response.status).toBe(503);
    expect(seen).toHaveLength(4);
    expect(clock.waited).toEqual([30_000, 60_000, 90_000]);
  });

  it("never asks again a request that is not repeatable (it could do a thing twice)", async () => {
    outageAnswers = 1;
    const clock = recordingClock();
    const response = await withRetryAfter(() => fetch(`${base}/v1/admin/videos`, { method: "POST", body: "{}" }), {
      repeatable: false,
      wait: clock.wait,
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { detail: string }).detail).toBe(WORDS);
    expect(seen).toHaveLength(1);
    expect(clock.waited).toEqual([]);
  });

  it("does not retry a 503 that names no Retry-After", async () => {
    outageAnswers = 1;
    retryAfterHeader = null;
    const clock = recordingClock();
    const response = await withRetryAfter(signIn, { repeatable: true, wait: clock.wait });
    expect(response.status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it("stops waiting when the request is aborted, and asks nothing more", async () => {
    outageAnswers = 100;
    const controller = new AbortController();
    const aborted = withRetryAfter(signIn, {
      repeatable: true,
      signal: controller.signal,
      wait: (_ms, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal?.addEventListener("abort", () => reject(signal.reason));
          controller.abort(new Error("left the page"));
        }),
    });
    await expect(aborted).rejects.toThrow("left the page");
    expect(seen).toHaveLength(1);
    const after: RetryWait[][] = [];
    onRetryWaits((waits) => after.push([...waits]))();
    expect(after).toEqual([[]]);
  });
});
