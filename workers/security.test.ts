import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "./platform/config.ts";
import { call, type SignedIn, signUp } from "./test/helpers.ts";
import { concretePath, documentedOperations, type Operation } from "./test/openapi.ts";

/**
 * One security table for every protected route, generated from the Worker's own /openapi.json
 * (unkey's shared role tests): a route added tomorrow is covered the day it is documented.
 * - every Bearer route refuses a missing, malformed, expired, wrong-audience and signed-out token
 *   with 401 and `WWW-Authenticate: Bearer`;
 * - every admin route refuses a viewer with 403;
 * - a method a path does not have is 405, with an `Allow` that names only the documented methods.
 */

let operations: Operation[];
let viewer: SignedIn;
let badTokens: Record<string, string | undefined>;

async function token(claims: { audience?: string; expiresAt?: number; issuedAt?: number }): Promise<string> {
  const config = await loadConfig(env);
  const [key] = config.signingKeys;
  if (!key) throw new Error("no signing key in the test environment");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: crypto.randomUUID(), role: "viewer" })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" })
    .setSubject(viewer.user.id)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(claims.audience ?? config.JWT_AUDIENCE)
    .setIssuedAt(claims.issuedAt ?? now)
    .setExpirationTime(claims.expiresAt ?? now + 60)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

beforeAll(async () => {
  operations = await documentedOperations();
  viewer = await signUp();
  const signedOut = await signUp();
  expect((await call("/v1/auth/signout", { method: "POST", token: signedOut.accessToken })).status).toBe(204);
  const now = Math.floor(Date.now() / 1000);
  badTokens = {
    "no token": undefined,
    "a malformed token": "not-a-jwt",
    "an expired token": await token({ issuedAt: now - 3600, expiresAt: now - 1800 }),
    "a token for another audience": await token({ audience: "another-api" }),
    "a signed-out session's token": signedOut.accessToken,
  };
});

describe("every Bearer route, from /openapi.json", () => {
  it("documents protected routes at all (the table is not empty)", () => {
    expect(operations.filter((operation) => operation.secured).length).toBeGreaterThan(15);
    expect(operations.filter((operation) => operation.admin).length).toBeGreaterThan(5);
  });

  it("refuses a missing, malformed, expired, wrong-audience or signed-out token with 401", async () => {
    const failures: string[] = [];
    for (const operation of operations.filter((candidate) => candidate.secured)) {
      for (const [what, bearer] of Object.entries(badTokens)) {
        const response = await call(concretePath(operation.path), {
          method: operation.method,
          headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
        });
        const challenge = response.headers.get("WWW-Authenticate") ?? "";
        if (response.status !== 401 || !challenge.startsWith("Bearer")) {
          failures.push(`${operation.method} ${operation.path} with ${what}: ${response.status} ${challenge}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("refuses a viewer on every admin route with 403", async () => {
    const failures: string[] = [];
    for (const operation of operations.filter((candidate) => candidate.admin)) {
      const response = await call(concretePath(operation.path), { method: operation.method, token: viewer.accessToken });
      if (response.status !== 403) failures.push(`${operation.method} ${operation.path}: ${response.status}`);
    }
    expect(failures).toEqual([]);
  });

  it("answers a method a path does not have with 405, naming only the documented methods", async () => {
    const byPath = new Map<string, Set<string>>();
    for (const operation of operations) {
      const known = byPath.get(operation.path) ?? new Set<string>();
      known.add(operation.method);
      if (operation.method === "GET") known.add("HEAD");
      byPath.set(operation.path, known);
    }
    const failures: string[] = [];
    for (const [path, known] of byPath) {
      const wrong = ["PUT", "PATCH", "DELETE", "POST"].find((method) => !known.has(method));
      if (!wrong) continue;
      const response = await call(concretePath(path), { method: wrong, token: viewer.accessToken });
      const allowed = (response.headers.get("Allow") ?? "").split(", ").filter(Boolean);
      // OPTIONS is the tus and media preflight, served beside the documented methods.
      const undocumented = allowed.filter((method) => !known.has(method) && method !== "OPTIONS");
      if (response.status !== 405 || undocumented.length > 0) {
        failures.push(`${wrong} ${path}: ${response.status}, Allow: ${allowed.join(", ")}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
