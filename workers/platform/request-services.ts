import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { CACHE_BYPASS_HEADER } from "./cache.ts";
import type { Clock } from "./clock.ts";
import { createServices } from "./services.ts";

/**
 * The HTTP entry's use of the composition root: builds `services` for the request (read with
 * `c.get("services")`), on the entry point's clock, and closes its database pools once the
 * response is sent, so routes that never touch Postgres (JWKS, media) never connect.
 *
 * @example
 * app.use("*", initServices({ clock: systemClock }));
 */
export function initServices(options: { clock: Clock }) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const services = await createServices(c.env, c.executionCtx, {
      clock: options.clock,
      logFields: { requestId: c.get("requestId") },
      bypassCacheReads: c.req.header(CACHE_BYPASS_HEADER)?.toLowerCase() === "bypass",
      dataCenter: c.req.raw.cf?.colo as string | undefined,
    });
    c.set("services", services);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(services.close());
    }
  });
}
