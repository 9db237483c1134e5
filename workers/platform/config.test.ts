import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("reads every variable and secret once, with defaults, derived keys and the read URL", async () => {
    const config = await loadConfig(env);
    expect(config.APP_ENV).toBe("test");
    expect(config.DATABASE_TIMEOUT_MS).toBe(3000);
    expect(config.databaseReadUrl).toBe(env.DATABASE_URL);
    expect(config.signingKeys.length).toBeGreaterThan(0);
    expect(config.cursorKeys).toHaveLength(config.signingKeys.length);
    expect(config.INTERNAL_SIGNING_SECRET.length).toBeGreaterThanOrEqual(32);
    // Parsed once per env object: the same promise, the same keys.
    expect(await loadConfig(env)).toBe(config);
  });

  it("fails naming each bad variable, so a deploy with a bad secret says what to fix", async () => {
    const bad = {
      ...env,
      ACCESS_TOKEN_TTL_SECONDS: "86400",
      INTERNAL_SIGNING_SECRET: "short",
      MEDIA_SIGNING_KEYS: "{not json",
      TRANSCODER_URLS: "http://127.0.0.1:8788,not a url",
    } as Env;
    const error = await loadConfig(bad).catch((e: unknown) => String(e));
    expect(error).toMatch(/ACCESS_TOKEN_TTL_SECONDS/);
    expect(error).toMatch(/INTERNAL_SIGNING_SECRET: INTERNAL_SIGNING_SECRET must be at least 32 characters/);
    expect(error).toMatch(/MEDIA_SIGNING_KEYS is not JSON/);
    expect(error).toMatch(/TRANSCODER_URLS: .not a url. is not an http\(s\) URL/);
    // A failed parse is not remembered: fixing the value is enough.
    await expect(loadConfig({ ...bad, ACCESS_TOKEN_TTL_SECONDS: "300" } as Env)).rejects.toThrow(/INTERNAL_SIGNING_SECRET/);
  });

  it("keeps access tokens to 5 minutes at most", async () => {
    await expect(loadConfig({ ...env, ACCESS_TOKEN_TTL_SECONDS: "301" } as Env)).rejects.toThrow(/ACCESS_TOKEN_TTL_SECONDS/);
    expect((await loadConfig({ ...env, ACCESS_TOKEN_TTL_SECONDS: "300" } as Env)).ACCESS_TOKEN_TTL_SECONDS).toBe(300);
  });

  it("says which secret is missing", async () => {
    const { JWT_SIGNING_KEYS: _dropped, ...rest } = env;
    await expect(loadConfig({ ...rest, JWT_SIGNING_KEYS: "" } as Env)).rejects.toThrow(/JWT_SIGNING_KEYS is not set/);
  });
});
