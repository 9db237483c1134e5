import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { AppEnv } from "./app-env.ts";

/** An answer this slow gets a log line even when it succeeded. */
export const SLOW_REQUEST_MS = 1000;

/** What answered: the route as declared (`/v1/videos/{id}`, `/media/*`), or `(none)` when nothing matched. */
export function routeTemplate(c: Context): string {
  const route = routePath(c);
  if (!route || route === "*" || route === "/*") return "(none)";
  return route.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}");
}

/**
 * Every request's telemetry, once it is answered: an Analytics Engine datapoint (route template,
 * method, status, duration, cache status, colo: `services.metrics.request`), and, for an answer
 * that failed (status 400 and up) or took `SLOW_REQUEST_MS`, one `request` log line. Workers
 * Logs' own invocation logs are off (wrangler.toml), because they record the URL and a media URL
 * carries its token; this line's `path` goes through the logger's redaction instead. Successful
 * requests are counted by their datapoints and sampled by traces, not logged one by one.
 *
 * Duration is real elapsed time (in a Worker it advances with I/O), not the injected clock's.
 */
export function requestTelemetry() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = Date.now();
    await next();
    const services = c.var.services;
    const point = {
      route: routeTemplate(c),
      method: c.req.method,
      status: c.res.status,
      durationMs: Date.now() - started,
      cacheStatus: c.res.headers.get("X-Media-Cache") ?? c.res.headers.get("CF-Cache-Status") ?? "",
      colo: String(c.req.raw.cf?.colo ?? ""),
    };
    services.metrics.request(point);
    if (point.status >= 400 || point.durationMs >= SLOW_REQUEST_MS) {
      (point.status >= 500 ? services.log.warn : services.log.info)("request", { ...point, path: c.req.path });
    }
  });
}
