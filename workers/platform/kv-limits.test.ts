import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cacheEntry, createKvCache } from "./cache.ts";
import { systemClock } from "./clock.ts";
import { enforceKvWriteRate, KV_SAME_KEY_WRITE_INTERVAL_MS } from "./kv-limits.ts";
import { createLogger } from "./logger.ts";

describe("KV's production limits on the local stack", () => {
  it("refuses a second write of one key within a second, as production KV does, and other keys freely", async () => {
    let now = 1_000_000;
    const kv = enforceKvWriteRate(env.CACHE, () => now);
    const key = `test:${crypto.randomUUID()}`;
    await kv.put(key, "1");
    await expect(kv.put(key, "2")).rejects.toThrow(/429 Too Many Requests/);
    await expect(kv.delete(key)).rejects.toThrow(/429/);
    await kv.put(`${key}:other`, "x");
    now += 1000;
    await kv.put(key, "3");
    expect(await env.CACHE.get(key)).toBe("3");
  });

  it("the cache writes a refused key again a second later, and the write lands", async () => {
    const lines: string[] = [];
    // The limit's clock moves only when the cache says it waits to write again: the second put is
    // refused however long the first one took (on the system's clock, a put slower than a second
    // would let the second through, and nothing would be tested).
    let limitNow = 1_000_000;
    const cache = createKvCache(
      enforceKvWriteRate(env.CACHE, () => limitNow),
      {
        bypassReads: false,
        clock: systemClock,
        waitUntil: () => {},
        log: createLogger({}, (_level, line) => {
          lines.push(line);
          if (/writing again/.test(line)) limitNow += KV_SAME_KEY_WRITE_INTERVAL_MS;
        }),
      },
    );
    const entry = cacheEntry<number>(`test:${crypto.randomUUID()}`, { cacheTtl: 30 });
    expect(await cache.put(entry, 1)).toBe(true);
    const started = Date.now();
    expect(await cache.put(entry, 2)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await cache.get(entry)).toBe(2);
    expect(lines.join("\n")).toMatch(/writing again/);
  });

  it("refuses entries whose lifetimes KV would refuse, where they are declared", () => {
    expect(() => cacheEntry("test:short", { cacheTtl: 10 })).toThrow(/cacheTtl 10 is under KV's 30 s/);
    expect(() => cacheEntry("test:short", { cacheTtl: 30, expirationTtl: 30 })).toThrow(/expirationTtl 30 is under KV's 60 s/);
  });
});
