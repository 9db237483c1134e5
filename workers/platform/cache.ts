import type { Logger } from "./logger.ts";

/**
 * One typed KV entry: the key, the type of its value, and its lifetimes.
 * - `expirationTtl`: how long KV keeps it at all (KV's minimum is 60 s); the upper bound on how
 *   long a value can outlive a missed invalidation.
 * - `cacheTtl`: how long an edge location may serve its own copy without asking KV again (KV's
 *   minimum is 30 s); the bound on how long *other* locations see an old value after a write.
 */
export interface CacheEntry<T> {
  readonly key: string;
  readonly expirationTtl?: number;
  readonly cacheTtl: number;
  /** Never set: carries `T` so that `get` and `put` agree on the value's type. */
  readonly valueType?: T;
}

/**
 * Declares a typed entry. Each service owns the module that names its keys (e.g.
 * `workers/videos/cache-keys.ts`); the platform knows only how to store them.
 *
 * @example
 * const plans = () => cacheEntry<PublicPlan[]>("v1:plans", { expirationTtl: 300, cacheTtl: 60 });
 */
export function cacheEntry<T>(key: string, lifetimes: { expirationTtl?: number; cacheTtl: number }): CacheEntry<T> {
  return { key, ...lifetimes };
}

/** A value together with the version of the data it was built from. */
export interface Stamped<T> {
  version: string;
  value: T;
}

/** The version a stamped entry is checked against: "0" until the first change is recorded. */
const INITIAL_VERSION = "0";

/**
 * The KV cache as a request sees it. A cache that fails never fails the request: reads count as
 * misses and the caller falls through to Postgres; after the first failure the request stops
 * talking to KV at all.
 */
export interface Cache {
  /** The value, or undefined on a miss, when reads are bypassed, or when KV fails (logged). */
  get<T>(entry: CacheEntry<T>): Promise<T | undefined>;
  /**
   * The current version and, in the same KV call, the entry's value if it was built from that
   * version. Bypassed or failing reads answer the initial version and no value.
   */
  getStamped<T>(entry: CacheEntry<Stamped<T>>, version: CacheEntry<string>): Promise<{ version: string; value?: T }>;
  /** Stores a value just read from the database, in the background (after the response). */
  fill<T>(entry: CacheEntry<T>, value: T): void;
  /** Writes after a change, awaited; false (and logged) when KV refused. */
  put<T>(entry: CacheEntry<T>, value: T): Promise<boolean>;
  delete(entry: CacheEntry<unknown>): Promise<boolean>;
  /** One real read that throws when KV fails (health checks; everything else degrades instead). */
  probe(): Promise<void>;
}

/**
 * The KV-backed cache. With `bypassReads` every read misses and nothing is filled, but writes
 * still invalidate: that is how a benchmark (or a debugging developer) measures Postgres behind
 * the same code path without leaving stale entries behind.
 */
export function createKvCache(
  kv: KVNamespace,
  options: { bypassReads: boolean; waitUntil: (promise: Promise<unknown>) => void; log: Logger },
): Cache {
  let healthy = true;
  const attempt = async <R>(operation: string, key: string, run: () => Promise<R>): Promise<R | undefined> => {
    if (!healthy) return undefined;
    try {
      return await run();
    } catch (error) {
      healthy = false;
      options.log.warn("cache unavailable, using Postgres", { operation, key, error });
      return undefined;
    }
  };
  const write = async <T>(target: CacheEntry<T>, value: T) =>
    (await attempt("put", target.key, async () => {
      await kv.put(target.key, JSON.stringify(value), target.expirationTtl ? { expirationTtl: target.expirationTtl } : {});
      return true;
    })) ?? false;
  return {
    async get(target) {
      if (options.bypassReads) return undefined;
      const value = await attempt("get", target.key, () => kv.get(target.key, { type: "json", cacheTtl: target.cacheTtl }));
      return (value ?? undefined) as never;
    },
    async getStamped(target, versionEntry) {
      if (options.bypassReads) return { version: INITIAL_VERSION };
      const found = await attempt("get", target.key, () =>
        kv.get([versionEntry.key, target.key], { type: "json", cacheTtl: Math.min(target.cacheTtl, versionEntry.cacheTtl) }),
      );
      const version = (found?.get(versionEntry.key) as string | null | undefined) ?? INITIAL_VERSION;
      const stamped = found?.get(target.key) as Stamped<never> | null | undefined;
      return stamped?.version === version ? { version, value: stamped.value } : { version };
    },
    fill(target, value) {
      if (options.bypassReads || !healthy) return;
      options.waitUntil(write(target, value));
    },
    put: write,
    async probe() {
      await kv.get("health:probe");
    },
    async delete(target) {
      return (
        (await attempt("delete", target.key, async () => {
          await kv.delete(target.key);
          return true;
        })) ?? false
      );
    },
  };
}

/**
 * Read-through for stamped entries: the cached value if it was built from the current version,
 * else `load(version)`, filled in the background with that version's stamp.
 *
 * @example
 * const home = await readThroughStamped(services.cache, catalogKeys.home(), catalogKeys.version(), (version) => buildHome(version));
 */
export async function readThroughStamped<T>(
  cache: Cache,
  target: CacheEntry<Stamped<T>>,
  versionEntry: CacheEntry<string>,
  load: (version: string) => Promise<T>,
): Promise<T> {
  const { version, value } = await cache.getStamped(target, versionEntry);
  if (value !== undefined) return value;
  const fresh = await load(version);
  cache.fill(target, { version, value: fresh });
  return fresh;
}

/**
 * Read-through: the cached value, or `load()` (whose non-null result is filled in the background).
 *
 * @example
 * const plans = await readThrough(services.cache, planCacheKeys.plans(), () => listPlans(services.readDb));
 */
export async function readThrough<T>(cache: Cache, target: CacheEntry<NonNullable<T>>, load: () => Promise<T>): Promise<T> {
  const hit = await cache.get(target);
  if (hit !== undefined) return hit;
  const value = await load();
  if (value !== null && value !== undefined) cache.fill(target, value);
  return value;
}
