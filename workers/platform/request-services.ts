import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { CACHE_BYPASS_HEADER } from "./cache.ts";
import { createServices } from "./services.ts";

/**
 * The HTTP entry's use of the composition root: builds `services` for the request (read with
 * `c.get("services")`) and closes its database pools once the response is sent, so routes that
 * never touch Postgres (JWKS, media) never connect.
 */
export const initServices = createMiddleware<AppEnv>(async (c, next) => {
  const services = await createServices(c.env, c.executionCtx, {
    logFields: { requestId: c.get("requestId") },
    bypassCacheReads: c.req.header(CACHE_BYPASS_HEADER)?.toLowerCase() === "bypass",
  });
  c.set("services", services);
  try {
    await next();
  } finally {
    c.executionCtx.waitUntil(services.close());
  }
});
