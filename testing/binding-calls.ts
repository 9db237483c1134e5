/**
 * The Worker's bindings with every call counted and forwarded (nothing stubbed): which KV keys a
 * request read in how many calls, which Durable Object methods it called, which rate limiters it
 * asked. Used by the warm-path test (workers/edge-budget.test.ts) and by the test Worker, which
 * reports the counts of one request in a header for `npm run bench:api`.
 */

/** Test Worker (testing/worker/index.ts): `count` runs the request with counted bindings and Postgres unreachable; the answer carries the counts (JSON). */
export const BINDING_CALLS_HEADER = "X-Test-Binding-Calls";
/** Test Worker: `in-memory` replaces miniflare's rate limiters (a Durable Object round trip each) by counters in the isolate. */
export const RATE_LIMITERS_HEADER = "X-Test-Rate-Limiters";

/** A Postgres address nothing listens on: a request that answers while using it made no query. */
export const UNREACHABLE_DATABASE_URL = "postgres://nobody:nothing@127.0.0.1:1/none";

export interface BindingCalls {
  /** One entry per KV call: the method and the keys it named. */
  kv: { method: string; keys: string[] }[];
  /** One entry per Durable Object RPC: `VIEWER_STATE.recordProgress`, … */
  durableObjects: string[];
  /** One entry per `limit()` call: the binding's name. */
  rateLimiters: string[];
}

export function noCalls(): BindingCalls {
  return { kv: [], durableObjects: [], rateLimiters: [] };
}

/** Calls `record` with each method call's name and arguments, then forwards it to `target`. */
function counting<T extends object>(target: T, record: (method: string, args: unknown[]) => void): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) => {
        record(property, args);
        // Reflect.apply: on an RPC stub, `.apply` would itself be a remote method.
        return Reflect.apply(value, object, args);
      };
    },
  });
}

function countingNamespace<N extends object>(binding: string, namespace: N, calls: BindingCalls): N {
  return new Proxy(namespace, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property);
      if (property !== "get" || typeof value !== "function") {
        return typeof value === "function" ? (...args: unknown[]) => Reflect.apply(value, object, args) : value;
      }
      return (...args: unknown[]) => {
        const stub = Reflect.apply(value, object, args) as object;
        return counting(stub, (method) => calls.durableObjects.push(`${binding}.${method}`));
      };
    },
  });
}

/** The names of `env`'s Rate Limiting bindings (whatever wrangler.toml declares: `*_LIMITER` with a `limit()`). */
export function rateLimiterNames(env: Env): string[] {
  return Object.keys(env).filter((name) => {
    const value: unknown = Reflect.get(env, name);
    return name.endsWith("_LIMITER") && typeof (value as { limit?: unknown } | null)?.limit === "function";
  });
}

/**
 * `env` with KV, the Durable Object namespaces and the rate limiters counted into `calls`.
 *
 * @example
 * const calls = noCalls();
 * const counted = countingEnv(env, calls);
 * await worker.fetch(request, counted, ctx); // calls.kv, calls.durableObjects, calls.rateLimiters
 */
export function countingEnv(env: Env, calls: BindingCalls, overrides: Partial<Env> = {}): Env {
  const limiters = Object.fromEntries(
    rateLimiterNames(env).map((name) => [name, counting(Reflect.get(env, name) as RateLimit, () => calls.rateLimiters.push(name))]),
  );
  return {
    ...env,
    CACHE: counting(env.CACHE, (method, args) => {
      const [keys] = args;
      calls.kv.push({ method, keys: Array.isArray(keys) ? keys.map(String) : [String(keys)] });
    }),
    VIEWER_STATE: countingNamespace("VIEWER_STATE", env.VIEWER_STATE, calls),
    UPLOAD_SESSION: countingNamespace("UPLOAD_SESSION", env.UPLOAD_SESSION, calls),
    ...limiters,
    ...overrides,
  };
}

/** One line for humans: `KV 1 call (3 keys) · Durable Objects 0 · rate limiters 1 (CATALOG_USER_LIMITER)`. */
export function describeCalls(calls: BindingCalls): string {
  const keys = calls.kv.reduce((sum, call) => sum + call.keys.length, 0);
  const list = (names: string[]) => (names.length > 0 ? ` (${names.join(", ")})` : "");
  return `KV ${calls.kv.length} call${calls.kv.length === 1 ? "" : "s"} (${keys} key${keys === 1 ? "" : "s"}) · Durable Objects ${calls.durableObjects.length}${list(calls.durableObjects)} · rate limiters ${calls.rateLimiters.length}${list(calls.rateLimiters)}`;
}
