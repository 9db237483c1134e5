/**
 * Workers KV's production limits that shape this code (https://developers.cloudflare.com/kv/platform/limits/,
 * .../kv/api/read-key-value-pairs/), and the local stack's enforcement of the ones miniflare does
 * not enforce itself, so that code which breaks them fails in tests rather than in production.
 */

/** KV refuses a `cacheTtl` under 30 s (since 2026-01-30; miniflare refuses it too). */
export const KV_MIN_CACHE_TTL_SECONDS = 30;
/** KV refuses an `expirationTtl` under 60 s. */
export const KV_MIN_EXPIRATION_TTL_SECONDS = 60;
/** KV accepts about one write per second to the same key, and answers others 429 ("KV PUT failed: 429 Too Many Requests"). */
export const KV_SAME_KEY_WRITE_INTERVAL_MS = 1000;

/** Whether a KV error is the per-key write limit (worth one retry after `KV_SAME_KEY_WRITE_INTERVAL_MS`). */
export function isKvWriteRateLimited(error: unknown): boolean {
  return error instanceof Error && /\b429\b/.test(error.message);
}

/** When each key was last written through each namespace, in this isolate. */
const lastWrites = new WeakMap<KVNamespace, Map<string, number>>();

/**
 * The namespace as the local stack gives it to the Worker (development and tests): writes and
 * deletes of a key written less than a second ago in this isolate are refused the way production
 * refuses them. Production enforces it across every location, this only within one isolate, which
 * is where a test or `npm start` makes its writes.
 *
 * @example
 * const kv = config.APP_ENV === "production" ? env.CACHE : enforceKvWriteRate(env.CACHE);
 */
export function enforceKvWriteRate(kv: KVNamespace, now: () => number = Date.now): KVNamespace {
  let writes = lastWrites.get(kv);
  if (!writes) {
    writes = new Map();
    lastWrites.set(kv, writes);
  }
  const written = writes;
  const admit = (operation: string, key: string) => {
    const at = now();
    const last = written.get(key);
    if (last !== undefined && at - last < KV_SAME_KEY_WRITE_INTERVAL_MS) {
      throw new Error(
        `KV ${operation} failed: 429 Too Many Requests (the local stack refuses a second write to '${key}' within ${KV_SAME_KEY_WRITE_INTERVAL_MS} ms, as production KV does)`,
      );
    }
    if (written.size > 10_000) {
      for (const [other, when] of written) if (at - when >= KV_SAME_KEY_WRITE_INTERVAL_MS) written.delete(other);
    }
    written.set(key, at);
  };
  return new Proxy(kv, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "put" || property === "delete") {
        return async (key: string, ...rest: unknown[]) => {
          admit(property === "put" ? "PUT" : "DELETE", key);
          return Reflect.apply(value, target, [key, ...rest]);
        };
      }
      return (...args: unknown[]) => Reflect.apply(value, target, args);
    },
  });
}
