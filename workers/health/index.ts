import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { createRouter } from "../platform/app.ts";
import type { Services } from "../platform/services.ts";

const checkSchema = z.enum(["ok", "error"]);
const healthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    checks: z.object({ db: checkSchema, cache: checkSchema, storage: checkSchema, queue: checkSchema }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Checks the database, KV, R2 and the queue for real",
  responses: {
    200: { description: "Everything answers", content: { "application/json": { schema: healthSchema } } },
    503: { description: "At least one dependency is down", content: { "application/json": { schema: healthSchema } } },
  },
});

/** Each check does one real, cheap, read-only operation against its dependency, bounded in time. */
async function check(services: Services, name: string, probe: () => Promise<unknown>): Promise<"ok" | "error"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out after 3 s")), 3000);
      }),
    ]);
    return "ok";
  } catch (error) {
    services.log.warn("health check failed", { check: name, error });
    return "error";
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The four checks. None writes anything: the queue is asked for its metrics (backlog), which
 * reaches the queue's service without putting a message on it, so a public, unthrottled
 * `/health` cannot fill the queue.
 */
export function runHealthChecks(services: Services) {
  return Promise.all([
    check(services, "db", () => services.db.execute(sql`select 1`)),
    check(services, "cache", () => services.cache.probe()),
    check(services, "storage", () => services.media.bucket.head("health/probe")),
    check(services, "queue", () => services.transcodeQueue.metrics()),
  ]);
}

export function createHealthRouter() {
  const app = createRouter();
  app.openapi(route, async (c) => {
    const [db, cache, storage, queue] = await runHealthChecks(c.get("services"));
    const checks = { db, cache, storage, queue };
    const healthy = Object.values(checks).every((value) => value === "ok");
    c.header("Cache-Control", "no-store");
    if (!healthy) {
      c.header("Retry-After", "5");
      return c.json({ status: "degraded" as const, checks }, 503);
    }
    return c.json({ status: "ok" as const, checks }, 200);
  });
  return app;
}
