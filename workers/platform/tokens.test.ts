import { env } from "cloudflare:workers";
import { base64url, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { call, type SignedIn, signUp } from "../test/helpers.ts";

/** The JWT negative suite: every token here must be refused with 401 and `WWW-Authenticate: Bearer`. */
describe("access token verification", () => {
  let viewer: SignedIn;
  let realKey: CryptoKey;
  let kid: string;
  let publicJwk: JWK;

  beforeAll(async () => {
    viewer = await signUp();
    const [jwk] = (JSON.parse(env.JWT_SIGNING_KEYS) as { keys: (JWK & { kid: string })[] }).keys;
    if (!jwk) throw new Error("no test key");
    kid = jwk.kid;
    realKey = (await importJWK(jwk, "ES256")) as CryptoKey;
    const { d: _d, ...pub } = jwk;
    publicJwk = pub;
  });

  const claims = () => ({ sid: JSON.parse(atob(viewer.accessToken.split(".")[1] ?? "")).sid as string, role: "viewer" });

  function token(
    overrides: {
      header?: Record<string, unknown>;
      iss?: string;
      aud?: string;
      exp?: number | string;
      sub?: string | null;
      key?: CryptoKey;
      omit?: string[];
      role?: string;
      extra?: Record<string, unknown>;
    } = {},
  ) {
    const body: Record<string, unknown> = { ...claims(), ...overrides.extra };
    if (overrides.role) body.role = overrides.role;
    for (const name of overrides.omit ?? []) delete body[name];
    let jwt = new SignJWT(body)
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt", ...overrides.header })
      .setIssuer(overrides.iss ?? env.PUBLIC_BASE_URL)
      .setAudience(overrides.aud ?? env.JWT_AUDIENCE)
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(overrides.exp ?? "10m");
    if (overrides.sub !== null) jwt = jwt.setSubject(overrides.sub ?? viewer.user.id);
    return jwt.sign(overrides.key ?? realKey);
  }

  async function expectRefused(jwt: string) {
    const response = await call("/v1/me", { token: jwt });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(response.headers.get("Content-Type")).toContain("application/problem+json");
  }

  it("accepts a well-formed token signed by the configured key (control case)", async () => {
    expect((await call("/v1/me", { token: await token() })).status).toBe(200);
  });

  it("takes a token without profile claims (signed before profiles) as the main profile without a ceiling", async () => {
    const response = await call("/v1/profiles", { token: await token() });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { current: string }).current).toBe(viewer.user.id);
  });

  it("refuses a profile claim out of shape: a ceiling outside 0..4 or not whole, a profile id that is not text", async () => {
    for (const extra of [{ mc: 5 }, { mc: -1 }, { mc: 1.5 }, { mc: "4" }, { pid: 42 }, { pid: "" }]) {
      await expectRefused(await token({ extra }));
    }
  });

  it("refuses alg none", async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid }));
    const payload = viewer.accessToken.split(".")[1];
    const response = await call("/v1/me", { headers: { Authorization: `Bearer ${header}.${payload}.` } });
    expect(response.status).toBe(401);
    await expectRefused(`${header}.${payload}.${base64url.encode("x")}`);
  });

  it("refuses algorithm confusion: HS256 signed with the public key as the secret", async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
      .setSubject(viewer.user.id)
      .setIssuer(env.PUBLIC_BASE_URL)
      .setAudience(env.JWT_AUDIENCE)
      .setIssuedAt()
      .setJti("x")
      .setExpirationTime("10m")
      .sign(secret);
    await expectRefused(forged);
  });

  it("refuses a wrong audience or issuer", async () => {
    await expectRefused(await token({ aud: "another-api" }));
    await expectRefused(await token({ iss: "https://evil.example" }));
  });

  it("refuses an expired token", async () => {
    await expectRefused(await token({ exp: Math.floor(Date.now() / 1000) - 120 }));
  });

  it.each(["sid", "role"])("refuses a token without %s", async (claim) => {
    await expectRefused(await token({ omit: [claim] }));
  });

  it("refuses a token without sub", async () => {
    await expectRefused(await token({ sub: null }));
  });

  it("refuses a token whose role is not a known role", async () => {
    await expectRefused(await token({ role: "superuser" }));
  });

  it("refuses a token of another type (typ) and one with an unknown kid", async () => {
    await expectRefused(await token({ header: { typ: "JWT" } }));
    await expectRefused(await token({ header: { kid: "someone-elses-key" } }));
  });

  it("refuses a forged signature: same kid, another key", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    await expectRefused(await token({ key: privateKey }));
    const [h, p] = viewer.accessToken.split(".");
    const flipped = `${h}.${p}.${base64url.encode(new Uint8Array(64))}`;
    await expectRefused(flipped);
    // A tampered payload with the original signature.
    const tampered = JSON.parse(new TextDecoder().decode(base64url.decode(p ?? "")));
    tampered.role = "admin";
    await expectRefused(`${h}.${base64url.encode(JSON.stringify(tampered))}.${viewer.accessToken.split(".")[2]}`);
  });

  it("refuses a valid signature for a revoked session", async () => {
    const valid = await token();
    expect((await call("/v1/me", { token: valid })).status).toBe(200);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    await expectRefused(valid);
    viewer = await signUp();
  });

  it("verifies against the published JWKS (what another service would do)", async () => {
    const jwks = (await (await call("/.well-known/jwks.json")).json()) as { keys: JWK[] };
    const key = jwks.keys.find((candidate) => candidate.kid === kid);
    expect(key).toBeDefined();
    const publicKey = await importJWK(key as JWK, "ES256");
    const { jwtVerify } = await import("jose");
    const { payload, protectedHeader } = await jwtVerify(viewer.accessToken, publicKey, {
      issuer: env.PUBLIC_BASE_URL,
      audience: env.JWT_AUDIENCE,
    });
    expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "at+jwt", kid });
    expect(payload.sub).toBe(viewer.user.id);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(900);
    expect(await exportJWK(publicKey as CryptoKey)).toMatchObject({ kty: "EC" });
  });
});
