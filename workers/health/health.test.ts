import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import worker from "../../testing/worker/index.ts";
import { brokenKv } from "../test/catalog.ts";
import { advanceClock, call } from "../test/helpers.ts";
import { HEALTH_CHECK_INTERVAL_MS } from "./index.ts";

interface Health {
  status: string;
  checks: Record<string, string>;
  checkedAt: string;
}

/** `/health` of an isolate whose environment is `isolateEnv` (one object: the checks are kept per isolate). */
async function health(isolateEnv: Env): Promise<{ response: Response; body: Health }> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request("http://reelstream.test/health"), isolateEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { response, body: (await response.json()) as Health };
}

/** A binding whose method calls are written down, then made on the real binding. */
function recorded<T extends object>(binding: T, calls: string[]): T {
  return new Proxy(binding, {
    get: (target, property) => {
      const value = Reflect.get(target, property);
      return typeof value === "function"
        ? (...args: unknown[]) => {
            calls.push(String(property));
            return Reflect.apply(value, target, args);
          }
        : value;
    },
  });
}

describe("GET /health", () => {
  it("answers 200 ok when Postgres, KV, R2, the queue and Durable Objects all answer", async () => {
    const response = await call("/health");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(await response.json()).toMatchObject({
      status: "ok",
      checks: { db: "ok", cache: "ok", storage: "ok", queue: "ok", durableObjects: "ok" },
    });
  });

  it("checks each dependency at most once per 5 s per isolate, however often it is called, and puts nothing on the queue", async () => {
    const calls: string[] = [];
    const isolateEnv = { ...env, USER_COPIES_QUEUE: recorded(env.USER_COPIES_QUEUE, calls) };
    for (let i = 0; i < 5; i++) expect((await health(isolateEnv)).body.checks.queue).toBe("ok");
    expect(calls).toEqual(["metrics"]);
    advanceClock(HEALTH_CHECK_INTERVAL_MS);
    const later = await health(isolateEnv);
    expect(calls).toEqual(["metrics", "metrics"]);
    expect(Date.parse(later.body.checkedAt)).toBeGreaterThan(Date.now());
  });

  it("answers 200 degraded when only Postgres is down: viewers are still served here, keep the location in", async () => {
    const { response, body } = await health({ ...env, DATABASE_URL: UNREACHABLE_DATABASE_URL });
    expect(response.status).toBe(200);
    expect(body).toMatchObject({
      status: "degraded",
      checks: { db: "error", cache: "ok", storage: "ok", queue: "ok", durableObjects: "ok" },
    });
  });

  it("answers 503 down with Retry-After when R2 fails here: take this location out", async () => {
    const brokenR2 = new Proxy(env.MEDIA, {
      get: (target, property) =>
        property === "head" ? () => Promise.reject(new Error("R2 is unavailable")) : Reflect.get(target, property),
    });
    const { response, body } = await health({ ...env, MEDIA: brokenR2 });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(body).toMatchObject({ status: "down", checks: { storage: "error", db: "ok" } });
  });

  it("answers 200 degraded when KV fails but Postgres answers, and 503 down when both fail", async () => {
    const kvOnly = await health({ ...env, CACHE: brokenKv });
    expect(kvOnly.response.status).toBe(200);
    expect(kvOnly.body).toMatchObject({ status: "degraded", checks: { cache: "error", db: "ok" } });
    const both = await health({ ...env, CACHE: brokenKv, DATABASE_URL: UNREACHABLE_DATABASE_URL });
    expect(both.response.status).toBe(503);
    expect(both.body.status).toBe("down");
  });
});

describe("a dependency that fails", () => {
  it("answers a route that needs the database with 503 problem+json and Retry-After, leaking nothing", async () => {
    const response = await call("/v1/auth/signin", {
      method: "POST",
      json: { email: "someone@example.com", password: "whatever password" },
      env: { DATABASE_URL: UNREACHABLE_DATABASE_URL },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBeTruthy();
    expect(response.headers.get("Content-Type")).toContain("application/problem+json");
    const text = await response.text();
    expect(text).not.toMatch(/127\.0\.0\.1|postgres:|select|stack|\.ts:/i);
    expect(JSON.parse(text)).toMatchObject({ status: 503, code: "unavailable" });
  });
});
