import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { wranglerConfig } from "../scripts/lib/local-stack/index.ts";

/**
 * Workers Cache stands in front of the media origin and never in front of the Worker's own
 * entrypoint: a cached answer of the Worker would skip the token and revocation checks, so a
 * signed-out viewer could replay a URL it had used (docs/playback.md "Delivery"). Read with
 * wrangler's own config reader, in every environment wrangler.toml declares.
 */
describe("wrangler.toml: Workers Cache", () => {
  const environments = [undefined, ...(unstable_readConfig({ config: wranglerConfig }).definedEnvironments ?? [])];

  it.each(environments)("caches the MediaOrigin entrypoint only, shared across versions (environment %s)", (env) => {
    const config = unstable_readConfig({ config: wranglerConfig, env });
    expect(config.cache).toEqual({ enabled: true, cross_version_cache: true });
    expect(config.exports?.default).toEqual({ type: "worker", cache: { enabled: false } });
    expect(config.exports?.MediaOrigin).toEqual({ type: "worker", cache: { enabled: true } });
  });
});
