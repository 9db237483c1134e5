import type { Clock } from "./clock.ts";
import { isDatabaseUnavailable } from "./describe-error.ts";
import {
  isKvWriteRateLimited,
  KV_MIN_CACHE_TTL_SECONDS,
  KV_MIN_EXPIRATION_TTL_SECONDS,
  KV_SAME_KEY_WRITE_INTERVAL_MS,
} from "./kv-limits.ts";
import type { Logger } from "./logger.ts";

/**
 * Request header that skips cache reads outside production (`npm run bench:api` uses it). Here,
 * not beside the middleware that reads it, so that Node tools can import it without the runtime.
 */
export const CACHE_BYPASS_HEADER = "X-Reelstream-Cache";

/**
 * Response header of an answer that serves (in whole or in part) a copy past its freshness,
 * because rebuilding it needed Postgres and Postgres could not be reached (stale-if-error): its
 * value is the age in seconds of the oldest such copy. docs/api.md documents it.
 */
export const STALE_HEADER = "Reelstream-Stale";

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
  /**
   * Stale-if-error: how long past `expirationTtl` KV keeps the entry's last copy, served (and
   * marked stale, `STALE_HEADER`) only when rebuilding it fails because Postgres cannot be reached.
   * Such an entry is stored with the time it was built (`Kept`) and is fresh for `expirationTtl`
   * after that; KV keeps it for both together.
   */
  readonly staleIfError?: number;
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
export function cacheEntry<T>(key: string, lifetimes: { expirationTtl?: number; cacheTtl: number; staleIfError?: number }): CacheEntry<T> {
  // KV's own floors (kv-limits.ts), checked where the entry is declared rather than at its first read.
  if (lifetimes.cacheTtl < KV_MIN_CACHE_TTL_SECONDS)
    throw new Error(`${key}: cacheTtl ${lifetimes.cacheTtl} is under KV's ${KV_MIN_CACHE_TTL_SECONDS} s`);
  if (lifetimes.expirationTtl !== undefined && lifetimes.expirationTtl < KV_MIN_EXPIRATION_TTL_SECONDS) {
    throw new Error(`${key}: expirationTtl ${lifetimes.expirationTtl} is under KV's ${KV_MIN_EXPIRATION_TTL_SECONDS} s`);
  }
  if (lifetimes.staleIfError !== undefined && lifetimes.expirationTtl === undefined) {
    throw new Error(`${key}: staleIfError needs an expirationTtl (how long a copy is fresh)`);
  }
  return { key, ...lifetimes };
}

/** A value together with when it was built (milliseconds since the epoch): how a stale-if-error entry is stored. */
export interface Kept<T> {
  builtAt: number;
  value: T;
}

/** A value together with the version of the data it was built from, and when. */
export interface Stamped<T> extends Kept<T> {
  version: string;
}

/** Whether a copy built at `builtAt` is still fresh for `entry` at `now` (always, without an `expirationTtl`). */
function isFresh(entry: CacheEntry<unknown>, builtAt: number, now: number): boolean {
  return entry.expirationTtl === undefined || builtAt + entry.expirationTtl * 1000 > now;
}

/** The version a stamped entry is checked against: "0" until the first change is recorded. */
const INITIAL_VERSION = "0";

/**
 * The isolate's own tier in front of KV, for stamped entries only: the value this isolate last
 * read or built for a key, with its stamp. While KV's version still equals the stamp, the value
 * is served from memory, so a warm request reads only the (small) version from KV, not the page;
 * when the version has moved on, the entry is read from KV again. It is exactly as fresh as KV's
 * copy, because the version is read from KV on every request. Version "0" (no change recorded
 * yet) is never remembered: it is not unique over time.
 * A page is at most tens of KB; this many of them stay well inside an isolate's 128 MB.
 */
const isolateTier = new Map<string, Stamped<unknown> & { until: number }>();
const ISOLATE_TIER_MAX_ENTRIES = 256;

/**
 * Remembers a stamped value while it is fresh: for the entry's `expirationTtl` (5 minutes for
 * pages) after it was built, as KV serves it: a catalog change whose version write was lost is
 * outlived no longer here than in KV.
 */
function remember(target: CacheEntry<unknown>, stamped: Stamped<unknown>): void {
  if (stamped.version === INITIAL_VERSION || target.expirationTtl === undefined) return;
  if (isolateTier.size >= ISOLATE_TIER_MAX_ENTRIES && !isolateTier.has(target.key)) isolateTier.clear();
  isolateTier.set(target.key, { ...stamped, until: stamped.builtAt + target.expirationTtl * 1000 });
}

function recall(key: string, now: number): Stamped<unknown> | undefined {
  const held = isolateTier.get(key);
  if (held && held.until <= now) isolateTier.delete(key);
  return held && held.until > now ? held : undefined;
}

/** What a read made alongside another answered: the value (undefined when the key is absent), or that KV could not say. */
export type AlongResult<T> = { ok: true; value: T | undefined } | { ok: false };

/** A key read together with the request's next KV read (see `Cache.readAlong`). */
export interface AlongRead<T> {
  /** Resolves once the key has been read; when no other read has happened by the time this is called, reads it on its own. */
  result(): Promise<AlongResult<T>>;
}

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
   * version. When this isolate already holds the entry stamped with the version KV answers, only
   * the version is read (see `isolateTier`). Bypassed or failing reads answer the initial version
   * and no value.
   */
  getStamped<T>(entry: CacheEntry<Stamped<T>>, version: CacheEntry<string>): Promise<{ version: string; value?: T }>;
  /** Several values in one KV call, in the order asked; undefined for each miss (or all, when bypassed or failing). */
  getMany<T>(entries: CacheEntry<T>[]): Promise<(T | undefined)[]>;
  /**
   * Reads `entry` in the same KV call as the request's next read (`get`, `getStamped`): one round
   * trip for both. Not subject to `bypassReads`: what is read along is not a cache of Postgres
   * (a session's revocation, a viewer's continue-watching row).
   */
  readAlong<T>(entry: CacheEntry<T>): AlongRead<T>;
  /** Stores a value just built from the database with its version's stamp (and the time): in this isolate at once, in KV in the background. */
  fillStamped<T>(entry: CacheEntry<Stamped<T>>, stamped: Omit<Stamped<T>, "builtAt">): void;
  /** Stores a value just read from the database, in the background (after the response). */
  fill<T>(entry: CacheEntry<T>, value: T): void;
  /**
   * Writes after a change, awaited; false (and logged) when KV refused. A write refused for KV's
   * per-key rate is made once more a second later, unless `retryIfRateLimited` is false (a caller
   * that must not wait, and has another writer coming: the continue-watching copy).
   */
  put<T>(entry: CacheEntry<T>, value: T, options?: { retryIfRateLimited?: boolean }): Promise<boolean>;
  delete(entry: CacheEntry<unknown>): Promise<boolean>;
  /** One real read that throws when KV fails (health checks; everything else degrades instead). */
  probe(): Promise<void>;
  /**
   * The copy of a stale-if-error entry this request last read, however old (undefined when it read
   * none): what `readThrough` and `readThroughStamped` serve when rebuilding it fails.
   */
  lastKept<T>(entry: CacheEntry<T>): Kept<T> | undefined;
  /** The same for a stamped entry, whose stamp is its envelope. */
  lastStamped<T>(entry: CacheEntry<Stamped<T>>): Stamped<T> | undefined;
  /** Records that the answer serves a copy built at `builtAt`, past its freshness (see `STALE_HEADER`). */
  markStale(builtAt: number): void;
  /** The age in seconds of the oldest stale copy this request served; undefined when it served none. */
  staleAgeSeconds(): number | undefined;
}

/**
 * The KV-backed cache. With `bypassReads` every read misses and nothing is filled, but writes
 * still invalidate: that is how a benchmark (or a debugging developer) measures Postgres behind
 * the same code path without leaving stale entries behind.
 */
export function createKvCache(
  kv: KVNamespace,
  options: { bypassReads: boolean; clock: Clock; waitUntil: (promise: Promise<unknown>) => void; log: Logger },
): Cache {
  const { clock } = options;
  let healthy = true;
  /** Stale-if-error copies this request read, by key: `Kept` envelopes, or `Stamped` ones for stamped entries. */
  const kept = new Map<string, Kept<unknown>>();
  let oldestStale: number | undefined;
  /** A stored value as callers see it: stale-if-error entries unwrapped, and only while fresh (the copy is kept aside). */
  const unwrap = (target: CacheEntry<unknown>, stored: unknown): unknown => {
    if (stored === null || stored === undefined) return undefined;
    if (target.staleIfError === undefined) return stored;
    const copy = stored as Kept<unknown>;
    kept.set(target.key, copy);
    return isFresh(target, copy.builtAt, clock.now()) ? copy.value : undefined;
  };
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
  interface Pending {
    entry: CacheEntry<unknown>;
    settle(result: AlongResult<unknown>): void;
    settled: Promise<AlongResult<unknown>>;
  }
  let along: Pending[] = [];
  /**
   * One KV multi-get of `entries` and of every key waiting to be read along (deduplicated); the
   * shortest `cacheTtl` of them all applies. Undefined (and KV marked unhealthy) when it fails.
   */
  const readMany = async (operation: string, entries: CacheEntry<unknown>[]): Promise<Map<string, unknown> | undefined> => {
    const riders = along;
    along = [];
    const all = [...entries, ...riders.map((rider) => rider.entry)];
    const keys = [...new Set(all.map((entry) => entry.key))];
    const found = await attempt(operation, keys.join(","), () =>
      kv.get(keys, { type: "json", cacheTtl: Math.min(...all.map((entry) => entry.cacheTtl)) }),
    );
    for (const rider of riders) {
      rider.settle(found ? { ok: true, value: found.get(rider.entry.key) ?? undefined } : { ok: false });
    }
    return found;
  };
  /**
   * A write (put or delete), made once more a second later when KV refused it for the per-key
   * write rate (another write of the key within the second, such as a reader's fill just before):
   * that is not KV being down. Awaited, so the caller's next read at this location sees it.
   */
  const writeOnceMoreIfRefused = async (operation: "put" | "delete", key: string, run: () => Promise<void>, retry = true) =>
    (await attempt(operation, key, async () => {
      try {
        await run();
      } catch (error) {
        if (!isKvWriteRateLimited(error)) throw error;
        if (!retry) {
          options.log.info("KV refused a second write of the key within a second; not waiting to write it again", { key, operation });
          return false;
        }
        options.log.info("KV refused a second write of the key within a second; writing again", { key, operation });
        await new Promise((resolve) => setTimeout(resolve, KV_SAME_KEY_WRITE_INTERVAL_MS + 50));
        await run();
      }
      return true;
    })) ?? false;
  /** Writes what KV stores: `stored` as it is (a stamped entry, or one without stale-if-error). */
  const writeStored = (target: CacheEntry<unknown>, stored: unknown, retry = true) =>
    writeOnceMoreIfRefused(
      "put",
      target.key,
      () =>
        kv.put(
          target.key,
          JSON.stringify(stored),
          target.expirationTtl ? { expirationTtl: target.expirationTtl + (target.staleIfError ?? 0) } : {},
        ),
      retry,
    );
  const write = <T>(target: CacheEntry<T>, value: T, writeOptions: { retryIfRateLimited?: boolean } = {}) =>
    writeStored(
      target,
      target.staleIfError === undefined ? value : ({ builtAt: clock.now(), value } satisfies Kept<T>),
      writeOptions.retryIfRateLimited ?? true,
    );
  return {
    async get(target) {
      if (options.bypassReads) return undefined;
      if (along.length > 0) return unwrap(target, (await readMany("get", [target]))?.get(target.key)) as never;
      const value = await attempt("get", target.key, () => kv.get(target.key, { type: "json", cacheTtl: target.cacheTtl }));
      return unwrap(target, value) as never;
    },
    async getStamped(target, versionEntry) {
      if (options.bypassReads) return { version: INITIAL_VERSION };
      const known = recall(target.key, clock.now());
      const found = await readMany("get", known ? [versionEntry] : [versionEntry, target]);
      const version = (found?.get(versionEntry.key) as string | null | undefined) ?? INITIAL_VERSION;
      if (known?.version === version) return { version, value: known.value as never };
      // Not held here, or held for an older version: the entry itself, from KV.
      const stamped = ((known ? (await readMany("get", [target]))?.get(target.key) : found?.get(target.key)) ?? known) as
        | Stamped<never>
        | null
        | undefined;
      if (stamped && target.staleIfError !== undefined) kept.set(target.key, stamped);
      if (stamped?.version !== version || !isFresh(target, stamped.builtAt, clock.now())) return { version };
      remember(target, stamped);
      return { version, value: stamped.value };
    },
    async getMany<T>(entries: CacheEntry<T>[]): Promise<(T | undefined)[]> {
      if (options.bypassReads || entries.length === 0) return entries.map(() => undefined);
      const found = await readMany("get", entries);
      return entries.map((entry) => unwrap(entry, found?.get(entry.key)) as T | undefined);
    },
    readAlong<T>(entry: CacheEntry<T>): AlongRead<T> {
      let settle: (result: AlongResult<unknown>) => void = () => {};
      const settled = new Promise<AlongResult<unknown>>((resolve) => {
        settle = resolve;
      });
      const pending: Pending = { entry, settle, settled };
      along.push(pending);
      return {
        result: async () => {
          if (along.includes(pending)) {
            if (!healthy) {
              along = along.filter((rider) => rider !== pending);
              pending.settle({ ok: false });
            } else {
              await readMany("get", []);
            }
          }
          return (await settled) as AlongResult<T>;
        },
      };
    },
    fill(target, value) {
      if (options.bypassReads || !healthy) return;
      options.waitUntil(write(target, value));
    },
    fillStamped(target, unstamped) {
      if (options.bypassReads) return;
      const stamped = { ...unstamped, builtAt: clock.now() };
      remember(target, stamped);
      if (healthy) options.waitUntil(writeStored(target, stamped));
    },
    put: write,
    async probe() {
      await kv.get("health:probe");
    },
    lastKept<T>(entry: CacheEntry<T>) {
      return kept.get(entry.key) as Kept<T> | undefined;
    },
    lastStamped<T>(entry: CacheEntry<Stamped<T>>) {
      return kept.get(entry.key) as Stamped<T> | undefined;
    },
    markStale(builtAt) {
      oldestStale = Math.min(oldestStale ?? builtAt, builtAt);
    },
    staleAgeSeconds() {
      return oldestStale === undefined ? undefined : Math.max(0, Math.floor((clock.now() - oldestStale) / 1000));
    },
    delete: (target) => writeOnceMoreIfRefused("delete", target.key, () => kv.delete(target.key)),
  };
}

/**
 * Read-through for stamped entries: the cached value if it was built from the current version (and
 * is fresh), else `load(version)`, filled in the background with that version's stamp. When `load`
 * fails because Postgres cannot be reached, a stale-if-error entry's last copy is served instead.
 * `fill: false` reads and serves a cached copy but stores nothing (the caller decides what is worth storing);
 * a function decides per value (a series page stores a series, not the absence of one).
 *
 * @example
 * const home = await readThroughStamped(services.cache, catalogKeys.home(), catalogKeys.version(), (version) => buildHome(version), services.clock);
 */
export async function readThroughStamped<T>(
  cache: Cache,
  target: CacheEntry<Stamped<T>>,
  versionEntry: CacheEntry<string>,
  load: (version: string) => Promise<T>,
  options: { fill?: boolean | ((value: T) => boolean) } = {},
): Promise<T> {
  const { version, value } = await cache.getStamped(target, versionEntry);
  if (value !== undefined) return value;
  let fresh: T;
  try {
    fresh = await load(version);
  } catch (error) {
    return keptOrThrow(cache, target, error, () => cache.lastStamped(target)).value;
  }
  const fill = options.fill ?? true;
  if (typeof fill === "function" ? fill(fresh) : fill) cache.fillStamped(target, { version, value: fresh });
  return fresh;
}

/**
 * Stale-if-error: when rebuilding an entry failed because Postgres cannot be reached, the copy this
 * request read of it (however old), recorded as stale; otherwise the error, rethrown.
 */
function keptOrThrow<T>(cache: Cache, target: CacheEntry<unknown>, error: unknown, copyOf: () => Kept<T> | undefined): Kept<T> {
  const copy = target.staleIfError !== undefined && isDatabaseUnavailable(error) ? copyOf() : undefined;
  if (!copy) throw error;
  cache.markStale(copy.builtAt);
  return copy;
}

/**
 * Read-through: the cached value, or `load()` (whose non-null result is filled in the background).
 * When `load` fails because Postgres cannot be reached, a stale-if-error entry's last copy is
 * served instead (`Cache.markStale`).
 *
 * @example
 * const plans = await readThrough(services.cache, planCacheKeys.plans(), () => listPlans(services.readDb));
 */
export async function readThrough<T>(cache: Cache, target: CacheEntry<NonNullable<T>>, load: () => Promise<T>): Promise<T> {
  const hit = await cache.get(target);
  if (hit !== undefined) return hit;
  let value: T;
  try {
    value = await load();
  } catch (error) {
    return keptOrThrow(cache, target, error, () => cache.lastKept(target)).value;
  }
  if (value !== null && value !== undefined) cache.fill(target, value);
  return value;
}
