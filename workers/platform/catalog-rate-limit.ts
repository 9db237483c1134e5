import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { clientKey, enforceRateLimits } from "./rate-limit.ts";

/** Both limiters count per minute (`period = 60` in wrangler.toml). */
const CATALOG_PERIOD_SECONDS = 60;

/**
 * Throttles the catalog and search routes per account and per client address (Cloudflare's
 * Rate Limiting binding; limits in wrangler.toml). Runs after `requireAuth` and before any cache
 * or database work, so a flood costs two counter increments per request and nothing more.
 * The per-client limit is the higher one: many viewers can share one address (a household, an
 * office, carrier NAT); the per-account limit is what stops a single scraper with many addresses.
 */
export const catalogRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const { rateLimiters } = c.get("services");
  await enforceRateLimits([
    { limiter: rateLimiters.catalogUser, period: CATALOG_PERIOD_SECONDS, key: `user:${c.get("auth").userId}`, subject: "this account" },
    {
      limiter: rateLimiters.catalogClient,
      period: CATALOG_PERIOD_SECONDS,
      key: `client:${clientKey(c.req.raw.headers)}`,
      subject: "this client",
    },
  ]);
  await next();
});
