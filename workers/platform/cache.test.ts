import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countingEnv, noCalls } from "../../testing/binding-calls.ts";
import { cacheEntry, createKvCache, readThrough, readThroughStamped, type Stamped } from "./cache.ts";
import { systemClock } from "./clock.ts";
import { createLogger, type LogLevel } from "./logger.ts";

const pending: Promise<unknown>[] = [];
const warnings: string[] = [];
const log = createLogger({}, (_level: LogLevel, line: string) => warnings.push(line));

function kvCache(kv: KVNamespace = env.CACHE, bypassReads = false) {
  return createKvCache(kv, { bypassReads, clock: systemClock, waitUntil: (promise) => pending.push(promise), log });
}

const failingKv = new Proxy({}, { get: () => () => Promise.reject(new Error("KV is down")) }) as KVNamespace;

describe("the KV cache", () => {
  it("reads through: a miss loads and fills in the background, the next read is a hit", async () => {
    const entry = cacheEntry<{ n: number }>(`test:${crypto.randomUUID()}`, { cacheTtl: 30 });
    let loads = 0;
    const load = async () => ({ n: ++loads });
    expect(await readThrough(kvCache(), entry, load)).toEqual({ n: 1 });
    await Promise.all(pending.splice(0));
    expect(await readThrough(kvCache(), entry, load)).toEqual({ n: 1 });
    expect(loads).toBe(1);
  });

  it("serves a stamped entry only while its version is current", async () => {
    const version = cacheEntry<string>(`test-version:${crypto.randomUUID()}`, { cacheTtl: 30 });
    const page = cacheEntry<Stamped<string>>(`test-page:${crypto.randomUUID()}`, { cacheTtl: 30 });
    const cache = kvCache();
    await cache.put(version, "v1");
    expect(await readThroughStamped(cache, page, version, async (v) => `built from ${v}`)).toBe("built from v1");
    await Promise.all(pending.splice(0));
    expect(await readThroughStamped(cache, page, version, async () => "rebuilt")).toBe("built from v1");
    await cache.put(version, "v2");
    expect(await readThroughStamped(kvCache(), page, version, async (v) => `built from ${v}`)).toBe("built from v2");
  });

  it("never fails a read: KV down is a miss, logged once, and the request stops asking KV", async () => {
    warnings.length = 0;
    const cache = kvCache(failingKv);
    const entry = cacheEntry<number>("test:down", { cacheTtl: 30 });
    expect(await cache.get(entry)).toBeUndefined();
    expect(await cache.get(entry)).toBeUndefined();
    expect(await cache.put(entry, 1)).toBe(false);
    expect(warnings).toHaveLength(1);
    await expect(cache.probe()).rejects.toThrow(/KV is down/);
  });

  it("with reads bypassed, misses every read but still writes (invalidations are not skipped)", async () => {
    const entry = cacheEntry<number>(`test:${crypto.randomUUID()}`, { cacheTtl: 30 });
    const bypassing = kvCache(env.CACHE, true);
    expect(await bypassing.put(entry, 7)).toBe(true);
    expect(await bypassing.get(entry)).toBeUndefined();
    expect(await kvCache().get(entry)).toBe(7);
  });

  it("reads a key along with the next read, in the same KV call; or alone when no read comes", async () => {
    const calls = noCalls();
    const kv = countingEnv(env, calls).CACHE;
    const along = cacheEntry<string>(`test-along:${crypto.randomUUID()}`, { cacheTtl: 30 });
    const document = cacheEntry<string>(`test-doc:${crypto.randomUUID()}`, { cacheTtl: 60 });
    await kvCache().put(along, "listed");
    await kvCache().put(document, "the page");
    calls.kv.length = 0;

    const cache = kvCache(kv);
    const riding = cache.readAlong(along);
    expect(await cache.get(document)).toBe("the page");
    expect(await riding.result()).toEqual({ ok: true, value: "listed" });
    expect(calls.kv).toEqual([{ method: "get", keys: [document.key, along.key] }]);

    calls.kv.length = 0;
    const alone = kvCache(kv).readAlong(cacheEntry<string>(`test-absent:${crypto.randomUUID()}`, { cacheTtl: 30 }));
    expect(await alone.result()).toEqual({ ok: true, value: undefined });
    expect(calls.kv).toHaveLength(1);
  });

  it("reads along even with reads bypassed, and says so when KV cannot answer", async () => {
    const along = cacheEntry<string>(`test-along:${crypto.randomUUID()}`, { cacheTtl: 30 });
    await kvCache().put(along, "revoked");
    const bypassing = kvCache(env.CACHE, true);
    const riding = bypassing.readAlong(along);
    expect(await bypassing.get(cacheEntry<string>("test:bypassed", { cacheTtl: 30 }))).toBeUndefined();
    expect(await riding.result()).toEqual({ ok: true, value: "revoked" });

    const down = kvCache(failingKv);
    const lost = down.readAlong(along);
    expect(await down.get(cacheEntry<string>("test:down", { cacheTtl: 30 }))).toBeUndefined();
    expect(await lost.result()).toEqual({ ok: false });
  });

  it("gets many entries in one call, in order, undefined for misses", async () => {
    const [a, b] = [
      cacheEntry<number>(`test:${crypto.randomUUID()}`, { cacheTtl: 30 }),
      cacheEntry<number>(`test:${crypto.randomUUID()}`, { cacheTtl: 30 }),
    ];
    await kvCache().put(b, 2);
    expect(await kvCache().getMany([a, b])).toEqual([undefined, 2]);
    expect(await kvCache(env.CACHE, true).getMany([a, b])).toEqual([undefined, undefined]);
  });
});
