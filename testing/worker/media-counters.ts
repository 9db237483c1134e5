import { workersCacheSimulationStats } from "../../workers/platform/workers-cache-simulation.ts";

/**
 * Test Worker, for `npm run bench:delivery`: what the media path costs, counted in this isolate
 * (the local stack runs one), and three request headers that put a request where the benchmark
 * wants it. Nothing here is stubbed: the counted bindings forward every call.
 */

/** `count`: the request's Worker run, R2 reads and Durable Object calls are counted. */
export const MEDIA_COUNTERS_HEADER = "X-Test-Media-Counters";
/** A data center's code (`FRA`): the request arrives there (`request.cf.colo`), so it has that data center's caches. */
export const DATA_CENTER_HEADER = "X-Test-Data-Center";
/** `cache-api` or `workers-cache`: the request takes that delivery path (`MEDIA_EDGE_CACHE`) whatever the configuration says. */
export const MEDIA_EDGE_CACHE_HEADER = "X-Test-Media-Edge-Cache";

export const mediaCounters = {
  /** Requests that ran the Worker's own entrypoint on a media path: billed Worker requests. */
  mediaRequests: 0,
  /** Runs of the `MediaOrigin` entrypoint: what the cache in front of it let through. */
  originRuns: 0,
  /** R2 `get` and `head` calls (Class B operations), by the media route or the origin. */
  r2Reads: 0,
  /** Durable Object calls of the media route (the stream check). */
  durableObjectCalls: 0,
};

export function resetMediaCounters(): void {
  for (const name of Object.keys(mediaCounters) as (keyof typeof mediaCounters)[]) mediaCounters[name] = 0;
  for (const name of Object.keys(workersCacheSimulationStats) as (keyof typeof workersCacheSimulationStats)[]) {
    workersCacheSimulationStats[name] = 0;
  }
}

export function readMediaCounters() {
  return { ...mediaCounters, workersCache: { ...workersCacheSimulationStats } };
}

function countingBucket(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "get" || property === "head") mediaCounters.r2Reads++;
        return Reflect.apply(value, target, args);
      };
    },
  });
}

function countingNamespace<N extends object>(namespace: N): N {
  return new Proxy(namespace, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property !== "get") return (...args: unknown[]) => Reflect.apply(value, target, args);
      return (...args: unknown[]) => {
        const stub = Reflect.apply(value, target, args) as object;
        return new Proxy(stub, {
          get(object, method) {
            const member: unknown = Reflect.get(object, method);
            if (typeof member !== "function") return member;
            return (...callArgs: unknown[]) => {
              mediaCounters.durableObjectCalls++;
              // Reflect.apply: on an RPC stub, `.apply` would itself be a remote method.
              return Reflect.apply(member, object, callArgs);
            };
          },
        });
      };
    },
  });
}

/** One counted environment per isolate's env, so configuration is parsed once. */
const counted = new WeakMap<Env, Env>();
export function countedMediaEnv(env: Env): Env {
  let result = counted.get(env);
  if (!result) {
    result = { ...env, MEDIA: countingBucket(env.MEDIA), VIEWER_STATE: countingNamespace(env.VIEWER_STATE) };
    counted.set(env, result);
  }
  return result;
}

/** The environment with `MEDIA_EDGE_CACHE` set, one object per value. */
const byEdgeCache = new WeakMap<Env, Map<string, Env>>();
export function withMediaEdgeCache(env: Env, value: string): Env {
  const known = byEdgeCache.get(env) ?? new Map<string, Env>();
  byEdgeCache.set(env, known);
  let result = known.get(value);
  if (!result) {
    result = { ...env, MEDIA_EDGE_CACHE: value };
    known.set(value, result);
  }
  return result;
}
