/**
 * Workers Cache, as far as miniflare allows. miniflare has none (wrangler 4.164, miniflare
 * 5.20261117): it accepts `cache` and `exports.<name>.cache` in wrangler.toml and does nothing
 * with them. Every `exports.MediaOrigin.fetch` runs the entrypoint, `Range` and `Cache-Tag` pass
 * through untouched, `ctx.cache` is undefined and the `cache` export of `cloudflare:workers` is an
 * empty object (no `purge`). So development and tests put this in front of the origin instead, built
 * on what miniflare does have: the Cache API, with HTTP's rules (`max-age`, `Range` → 206/416,
 * `If-None-Match` → 304).
 *
 * What it reproduces: two tiers, a lower one per data center (named by the request's `cf.colo`)
 * and one upper tier they all share, so a miss in one data center is filled from another's copy
 * and the origin runs only when both miss; `Range` and validators stripped before the origin is
 * called, the whole object stored and the range answered from it; only `GET`/`HEAD`, only a `200`
 * whose `Cache-Control` is `public` with a `max-age`; `Cache-Tag` kept for purges and stripped
 * from the answer; purge by tag, of every tier; `Cf-Cache-Status` (`HIT`, `MISS`, `BYPASS`).
 *
 * What it does not: request collapsing (two simultaneous misses run the origin twice), heuristic
 * freshness of answers without `Cache-Control`, `stale-while-revalidate` and `stale-if-error`,
 * `Vary`, per-version keys, eviction, and the tag index lives in this isolate's memory (a purge
 * after the isolate restarted finds nothing to purge; copies then end with their `max-age`).
 * Expiry runs on miniflare's wall clock, not on the test clock.
 */

const UPPER_TIER = "workers-cache:upper";

/** Cache URLs by tag, and the data centers whose lower tiers hold copies: what a purge deletes. */
const tagged = new Map<string, Set<string>>();
const dataCenters = new Set<string>();

/** How the simulation answered since the isolate started (the benchmark reads them). */
export const workersCacheSimulationStats = { lowerTierHits: 0, upperTierHits: 0, misses: 0, bypasses: 0 };

const CONDITION_HEADERS = ["Range", "If-None-Match", "If-Modified-Since"];

function storable(response: Response): boolean {
  const control = (response.headers.get("Cache-Control") ?? "").toLowerCase();
  const maxAge = Number(/(?:^|,)\s*(?:s-maxage|max-age)=(\d+)/.exec(control)?.[1] ?? 0);
  return (
    response.status === 200 &&
    /(?:^|,)\s*public\b/.test(control) &&
    !/\b(?:private|no-store)\b/.test(control) &&
    maxAge > 0 &&
    !response.headers.has("Set-Cookie") &&
    response.headers.get("Vary")?.trim() !== "*"
  );
}

function labelled(response: Response, status: "HIT" | "MISS" | "BYPASS"): Response {
  const answer = new Response(response.body, response);
  answer.headers.set("Cf-Cache-Status", status);
  return answer;
}

/**
 * `origin` behind a simulated Workers Cache, as `dataCenter` sees it.
 *
 * @example
 * const cache = simulateWorkersCache((request) => exports.MediaOrigin.fetch(request), { dataCenter: "FRA" });
 * await cache.fetch(request); // Cf-Cache-Status: MISS, then HIT, also from another data center
 */
export function simulateWorkersCache(origin: (request: Request) => Promise<Response>, options: { dataCenter: string }) {
  const lowerTierName = `workers-cache:${options.dataCenter}`;
  return {
    async fetch(request: Request): Promise<Response> {
      if (request.method !== "GET" && request.method !== "HEAD") return origin(request);
      dataCenters.add(options.dataCenter);
      const [lower, upper] = await Promise.all([caches.open(lowerTierName), caches.open(UPPER_TIER)]);
      // The key is the path: no header of the request is part of it.
      const key = new Request(request.url);
      const conditions = new Headers();
      for (const name of CONDITION_HEADERS) {
        const value = request.headers.get(name);
        if (value) conditions.set(name, value);
      }
      const asked = new Request(request.url, { headers: conditions });
      const hit = await lower.match(asked);
      if (hit) {
        workersCacheSimulationStats.lowerTierHits++;
        return labelled(hit, "HIT");
      }
      const upperCopy = await upper.match(key);
      if (upperCopy) {
        workersCacheSimulationStats.upperTierHits++;
        await lower.put(key, upperCopy);
        const filled = await lower.match(asked);
        if (filled) return labelled(filled, "HIT");
      }
      // Both tiers missed: the origin is asked for the whole object, whatever range the viewer wants.
      const response = await origin(key);
      if (!storable(response)) {
        workersCacheSimulationStats.bypasses++;
        return labelled(response, "BYPASS");
      }
      workersCacheSimulationStats.misses++;
      const headers = new Headers(response.headers);
      for (const tag of (headers.get("Cache-Tag") ?? "").split(",").map((t) => t.trim().toLowerCase())) {
        if (!tag) continue;
        const urls = tagged.get(tag) ?? new Set<string>();
        urls.add(request.url);
        tagged.set(tag, urls);
      }
      headers.delete("Cache-Tag");
      const [toUpper, toLower] = (response.body ?? new Response("").body)?.tee() ?? [null, null];
      await Promise.all([
        upper.put(key, new Response(toUpper, { status: 200, headers })),
        lower.put(key, new Response(toLower, { status: 200, headers })),
      ]);
      const stored = await lower.match(asked);
      return labelled(stored ?? new Response(null, { status: 502 }), "MISS");
    },

    /** Drops every copy tagged with one of `tags`, from the upper tier and every data center's lower tier. */
    async purge(tags: string[]): Promise<void> {
      const tiers = await Promise.all(
        [UPPER_TIER, ...[...dataCenters].map((name) => `workers-cache:${name}`)].map((name) => caches.open(name)),
      );
      for (const tag of tags.map((t) => t.toLowerCase())) {
        const urls = tagged.get(tag);
        tagged.delete(tag);
        for (const url of urls ?? []) await Promise.all(tiers.map((tier) => tier.delete(url)));
      }
    },
  };
}
