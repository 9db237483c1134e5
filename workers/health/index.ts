import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { createRouter } from "../platform/app.ts";
import type { Services } from "../platform/services.ts";

const checkSchema = z.enum(["ok", "error"]);
const healthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    checks: z.object({ db: checkSchema, cache: checkSchema, storage: checkSchema, queue: checkSchema }),
    checkedAt: z.string().openapi({ description: "When these checks ran (this data center reuses them for 10 s)" }),
  })
  .openapi("Health");
type Health = z.infer<typeof healthSchema>;

/**
 * How long a data center reuses its last checks. A monitor may call every few seconds from many
 * places; Postgres, KV, R2 and the queue are still asked at most once in this time per data center.
 */
export const HEALTH_REUSE_MS = 10_000;

/** The Cache API entry (per data center) that holds the last checks. Never fetched: no such host. */
export const HEALTH_CACHE_KEY = "https://health.reelstream.internal/last-checks";

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Checks the database, KV, R2 and the queue for real, at most once per 10 s per data center",
  description:
    "Safe to call every few seconds: the checks' answer is reused for 10 s in the data center that ran them (checkedAt says when). " +
    "Per-address floods are for the WAF rule in front of the Worker (docs/operations.md).",
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

/** This data center's last checks, if they ran less than `HEALTH_REUSE_MS` ago on the services' clock. */
async function reusableHealth(services: Services): Promise<Health | undefined> {
  try {
    const stored = await caches.default.match(HEALTH_CACHE_KEY);
    if (!stored) return undefined;
    const health = healthSchema.safeParse(await stored.json());
    if (!health.success) return undefined;
    const age = services.clock.now() - Date.parse(health.data.checkedAt);
    return age >= 0 && age < HEALTH_REUSE_MS ? health.data : undefined;
  } catch {
    return undefined; // No cache here (workers.dev), or it failed: check for real.
  }
}

async function checkHealth(services: Services): Promise<Health> {
  const [db, cache, storage, queue] = await runHealthChecks(services);
  const checks = { db, cache, storage, queue };
  const status = Object.values(checks).every((value) => value === "ok") ? "ok" : "degraded";
  const health: Health = { status, checks, checkedAt: new Date(services.clock.now()).toISOString() };
  const stored = new Response(JSON.stringify(health), {
    headers: { "Content-Type": "application/json", "Cache-Control": `max-age=${HEALTH_REUSE_MS / 1000}` },
  });
  services.waitUntil(caches.default.put(HEALTH_CACHE_KEY, stored).catch(() => {}));
  return health;
}

export function createHealthRouter() {
  const app = createRouter();
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const health = (await reusableHealth(services)) ?? (await checkHealth(services));
    c.header("Cache-Control", "no-store");
    if (health.status !== "ok") {
      c.header("Retry-After", "5");
      return c.json(health, 503);
    }
    return c.json(health, 200);
  });
  return app;
}
