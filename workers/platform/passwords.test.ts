import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, signUp, strongPassword } from "../test/helpers.ts";
import { hashPassword, needsRehash, passwordHashParams, verifyPassword } from "./passwords.ts";

describe("password hashing", () => {
  it("stores Argon2id with the configured parameters in every hash", async () => {
    const encoded = await hashPassword(strongPassword);
    expect(encoded).toMatch(
      new RegExp(
        `^\\$argon2id\\$v=19\\$m=${passwordHashParams.memoryCost},t=${passwordHashParams.timeCost},p=${passwordHashParams.parallelism}\\$`,
      ),
    );
    expect(await verifyPassword(encoded, strongPassword)).toBe(true);
    expect(await verifyPassword(encoded, `${strongPassword}!`)).toBe(false);
    expect(needsRehash(encoded)).toBe(false);
    // Two hashes of one password differ: each has its own salt.
    expect(await hashPassword(strongPassword)).not.toBe(encoded);
  });

  it("flags hashes made with weaker parameters for a rehash", () => {
    expect(needsRehash("$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaA")).toBe(true);
    expect(needsRehash("$pbkdf2-sha256$100000$abc$def")).toBe(true);
  });

  it("rehashes an old hash with today's parameters at the next sign-in", async () => {
    const { user } = await signUp();
    const { Argon2Type } = await import("@phi-ag/argon2");
    const Argon2 = (await import("@phi-ag/argon2")).default;
    const wasm = (await import("@phi-ag/argon2/argon2.wasm")).default;
    const weak = new Argon2(await WebAssembly.instantiate(wasm)).hash(strongPassword, {
      type: Argon2Type.Argon2id,
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
      hashLength: 32,
    }).encoded;
    const { Pool, neonConfig } = await import("@neondatabase/serverless");
    const proxy = env.DATABASE_WS_PROXY;
    if (proxy) {
      neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
      neonConfig.useSecureWebSocket = false;
      neonConfig.pipelineConnect = false;
    }
    const pool = new Pool({ connectionString: env.DATABASE_URL });
    try {
      await pool.query("update users set password_hash = $1 where id = $2", [weak, user.id]);
      expect((await call("/v1/auth/signin", { method: "POST", json: { email: user.email, password: strongPassword } })).status).toBe(200);
      const { rows } = await pool.query<{ password_hash: string }>("select password_hash from users where id = $1", [user.id]);
      expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect((await call("/v1/auth/signin", { method: "POST", json: { email: user.email, password: strongPassword } })).status).toBe(200);
    } finally {
      await pool.end();
    }
  });
});
