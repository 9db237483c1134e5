import { cacheEntry } from "../platform/cache.ts";
import type { PublicPlan } from "./schema.ts";

/**
 * The subscription service's KV keys. Plans change only by migration: a deploy after such a
 * migration waits at most `expirationTtl`, or bumps `v1`.
 */
export const planKeys = {
  plans: () => cacheEntry<PublicPlan[]>("v1:plans", { expirationTtl: 300, cacheTtl: 60 }),
} as const;
