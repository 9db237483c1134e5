import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { advanceClock, call } from "../test/helpers.ts";
import { HEALTH_CACHE_KEY, HEALTH_REUSE_MS } from "./index.ts";

// Each test starts as a data center's first call: no checks to reuse.
beforeEach(async () => {
  await caches.default.delete(HEALTH_CACHE_KEY);
});

describe("GET /health", () => {
  it("answers 200 when Postgres, KV, R2 and the queue all answer", async () => {
    const response = await call("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      checks: { db: "ok", cache: "ok", storage: "ok", queue: "ok" },
      checkedAt: expect.any(String),
    });
  });

  it("checks once per 10 s however often it is called, the queue without putting anything on it", async () => {
    const calls: string[] = [];
    // The real queue binding, with each call it receives written down.
    const queue = new Proxy(env.TRANSCODE_QUEUE, {
      get: (target, property) => {
        const value = Reflect.get(target, property);
        return typeof value === "function"
          ? (...args: unknown[]) => {
              calls.push(String(property));
              return value.apply(target, args);
            }
          : value;
      },
    });
    const checkedAt = new Set<string>();
    const health = async () => {
      const response = await call("/health", { env: { TRANSCODE_QUEUE: queue } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { checks: { queue: string }; checkedAt: string };
      expect(body.checks.queue).toBe("ok");
      checkedAt.add(body.checkedAt);
    };
    for (let i = 0; i < 5; i++) await health();
    expect(calls).toEqual(["metrics"]);
    advanceClock(HEALTH_REUSE_MS - 1000);
    await health();
    expect(calls).toEqual(["metrics"]);
    advanceClock(1000);
    await health();
    expect(calls).toEqual(["metrics", "metrics"]);
    expect(checkedAt.size).toBe(2);
  });

  it("answers 503 with Retry-After when the database is down", async () => {
    const handler = (await import("../index.ts")).default;
    const ctx = createExecutionContext();
    const response = await handler.fetch(
      new Request("http://reelstream.test/health"),
      { ...env, DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:9/postgres" },
      ctx,
    );
    await waitOnExecutionContext(ctx); // the checks are stored for reuse in the background
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBeTruthy();
    const body = (await response.json()) as { status: string; checks: Record<string, string> };
    expect(body.checks.db).toBe("error");
    expect(body.checks.cache).toBe("ok");
  });
});

describe("a dependency that fails", () => {
  it("answers 503 naming the cache when KV throws, and the rest still reports ok", async () => {
    const handler = (await import("../index.ts")).default;
    const brokenKv = new Proxy(env.CACHE, {
      get: (target, property) =>
        property === "get" ? () => Promise.reject(new Error("KV is unavailable")) : Reflect.get(target, property),
    });
    const ctx = createExecutionContext();
    const response = await handler.fetch(new Request("http://reelstream.test/health"), { ...env, CACHE: brokenKv }, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: "degraded",
      checks: { db: "ok", cache: "error", storage: "ok", queue: "ok" },
      checkedAt: expect.any(String),
    });
  });

  it("answers a route that needs the database with 503 problem+json and Retry-After, leaking nothing", async () => {
    const handler = (await import("../index.ts")).default;
    const response = await handler.fetch(
      new Request("http://reelstream.test/v1/auth/signin", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: "someone@example.com", password: "whatever password" }),
      }),
      { ...env, DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:9/postgres" },
      createExecutionContext(),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBeTruthy();
    expect(response.headers.get("Content-Type")).toContain("application/problem+json");
    const text = await response.text();
    expect(text).not.toMatch(/127\.0\.0\.1|postgres:|select|stack|\.ts:/i);
    expect(JSON.parse(text)).toMatchObject({ status: 503, code: "unavailable" });
  });
});
