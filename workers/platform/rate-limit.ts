import { ApiError } from "./errors.ts";

/**
 * Cloudflare's Rate Limiting binding (`[[ratelimits]]` in wrangler.toml). Counters are kept per
 * Cloudflare location and per key; `period` is the window in seconds, which is what a refused
 * client is told to wait.
 */
export interface RateLimitRule {
  limiter: RateLimit;
  period: number;
  key: string;
  /** Who is throttled, for the message: "this account", "this client". */
  subject: string;
}

/** Throws 429 with Retry-After when any of the rules is over its limit. */
export async function enforceRateLimits(rules: RateLimitRule[]): Promise<void> {
  const outcomes = await Promise.all(rules.map(async (rule) => ({ rule, ...(await rule.limiter.limit({ key: rule.key })) })));
  const refused = outcomes.find((outcome) => !outcome.success);
  if (refused) {
    throw new ApiError(
      "too-many-requests",
      `Too many requests from ${refused.rule.subject}. Wait ${refused.rule.period} seconds and try again.`,
      {
        headers: { "Retry-After": String(refused.rule.period) },
      },
    );
  }
}

/** The client's address as Cloudflare saw it; `CF-Connecting-IP` cannot be set by the client in production. */
export function clientKey(headers: Headers): string {
  return headers.get("CF-Connecting-IP") ?? headers.get("X-Forwarded-For")?.split(",")[0]?.trim() ?? "unknown";
}

/**
 * Uses up what is left of `key`'s allowance in the current window, so its next calls are refused
 * until the window ends. The binding cannot set a count, and miniflare does not take `delta`, so
 * this counts until refused; `most` bounds the calls (the limit in wrangler.toml is enough).
 */
export async function spendAllowance(limiter: RateLimit, key: string, most: number): Promise<void> {
  for (let calls = 0; calls < most; calls++) {
    if (!(await limiter.limit({ key })).success) return;
  }
}
