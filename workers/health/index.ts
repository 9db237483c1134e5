import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { createRouter } from "../platform/app.ts";
import type { Services } from "../platform/services.ts";

const checkSchema = z.enum(["ok", "error"]);
const healthSchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]).openapi({
      description:
        "`ok`: every dependency answers. `degraded`: Postgres or the queue does not, and viewers are still served here (browse from KV, refresh, play, heartbeats, resume). `down` (503): viewers cannot be served here; take this location out.",
    }),
    checks: z.object({ db: checkSchema, cache: checkSchema, storage: checkSchema, queue: checkSchema, durableObjects: checkSchema }),
    /** When these checks ran (they are shared for a few seconds per isolate). */
    checkedAt: z.iso.datetime(),
  })
  .openapi("Health");

type Checks = z.infer<typeof healthSchema>["checks"];
type Health = z.infer<typeof healthSchema>;

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Checks the database, KV, R2, the queue and Durable Objects; says whether this location can serve viewers",
  description:
    "Checked for real, at most every 5 s per isolate (answers in between share the result), so calling it costs no database " +
    "connection. 200 with `ok` or `degraded`; 503 with `down` and Retry-After: take this location out.",
  responses: {
    200: { description: "Viewers are served here (`ok` or `degraded`)", content: { "application/json": { schema: healthSchema } } },
    503: { description: "Viewers cannot be served here (`down`)", content: { "application/json": { schema: healthSchema } } },
  },
});

/** How long an isolate reuses its checks: a load balancer probing every second costs one check of each dependency per 5 s. */
export const HEALTH_CHECK_INTERVAL_MS = 5000;
const CHECK_TIMEOUT_MS = 3000;

/** The isolate's last checks, per environment object (one per isolate in production; tests pass others). */
const lastChecks = new WeakMap<object, { at: number; health: Promise<Health> }>();

/** Each check does one real, cheap, read-only operation against its dependency, bounded in time. */
async function check(services: Services, name: string, probe: () => Promise<unknown>): Promise<"ok" | "error"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
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

/** A few objects answer the Durable Object check (spread, so that no single one takes every isolate's probes). */
const PROBE_OBJECTS = 16;

/**
 * The five checks. None writes anything a viewer has: the queue is asked for its metrics (backlog),
 * which reaches the queue's service without putting a message on it, so a public, unthrottled
 * `/health` cannot fill the queue; a Durable Object is asked to answer (`ping`).
 */
export async function runHealthChecks(services: Services): Promise<Checks> {
  const [db, cache, storage, queue, durableObjects] = await Promise.all([
    check(services, "db", () => services.db.execute(sql`select 1`)),
    check(services, "cache", () => services.cache.probe()),
    check(services, "storage", () => services.media.bucket.head("health/probe")),
    check(services, "queue", () => services.userCopiesQueue.metrics()),
    check(services, "durableObjects", () => services.viewerState(`health-probe-${Math.floor(Math.random() * PROBE_OBJECTS)}`).ping()),
  ]);
  return { db, cache, storage, queue, durableObjects };
}

/**
 * What the checks mean for this location. Media (R2) and the viewers' objects are on every play
 * and heartbeat: without either, `down`. Browse reads KV, and Postgres behind it: without both,
 * `down`. Postgres or the queue alone: `degraded`, since viewers are served without them (what
 * needs Postgres answers 503; progress waits in the viewers' objects) and every location shares
 * them, so taking locations out would not help.
 */
export function overallStatus(checks: Checks): Health["status"] {
  if (checks.storage === "error" || checks.durableObjects === "error") return "down";
  if (checks.cache === "error" && checks.db === "error") return "down";
  return Object.values(checks).every((value) => value === "ok") ? "ok" : "degraded";
}

function currentHealth(env: object, services: Services): Promise<Health> {
  const now = services.clock.now();
  const last = lastChecks.get(env);
  if (last && now - last.at < HEALTH_CHECK_INTERVAL_MS) return last.health;
  const health = runHealthChecks(services).then((checks) => ({
    status: overallStatus(checks),
    checks,
    checkedAt: new Date(now).toISOString(),
  }));
  lastChecks.set(env, { at: now, health });
  return health;
}

export function createHealthRouter() {
  const app = createRouter();
  app.openapi(route, async (c) => {
    const health = await currentHealth(c.env, c.get("services"));
    c.header("Cache-Control", "no-store");
    if (health.status === "down") {
      c.header("Retry-After", String(HEALTH_CHECK_INTERVAL_MS / 1000));
      return c.json(health, 503);
    }
    return c.json(health, 200);
  });
  return app;
}
