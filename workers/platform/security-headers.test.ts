import { describe, expect, it } from "vitest";
import { call, signUp } from "../test/helpers.ts";
import { API_CSP, COMMON_SECURITY_HEADERS } from "./security-headers.ts";

describe("security headers on every answer of the Worker", () => {
  it("sends nosniff, Referrer-Policy, Permissions-Policy, X-Frame-Options and a policy that loads nothing, on success and on error", async () => {
    const viewer = await signUp();
    const answers = {
      "GET /health": await call("/health"),
      "GET /v1/me": await call("/v1/me", { token: viewer.accessToken }),
      "GET /v1/me without a token (401)": await call("/v1/me"),
      "GET /v1/plans": await call("/v1/plans"),
      "GET /openapi.json": await call("/openapi.json"),
      "GET /v1/nope (404)": await call("/v1/nope"),
      "DELETE /v1/plans (405)": await call("/v1/plans", { method: "DELETE" }),
      "POST /v1/auth/signin, not JSON (400)": await call("/v1/auth/signin", { method: "POST", body: "x" }),
      "GET /media without a signature (403)": await call("/media/nope"),
    };
    for (const [what, response] of Object.entries(answers)) {
      for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS))
        expect(response.headers.get(name), `${what}: ${name}`).toBe(value);
      expect(response.headers.get("Content-Security-Policy"), what).toBe(API_CSP);
    }
    expect(API_CSP).toMatch(/default-src 'none'/);
    expect(API_CSP).toMatch(/frame-ancestors 'none'/);
  });

  it("leaves a page's own policy in place (/docs), with the rest of the headers", async () => {
    const docs = await call("/docs");
    expect(docs.headers.get("Content-Security-Policy")).toMatch(/script-src 'self' 'sha256-/);
    for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) expect(docs.headers.get(name), name).toBe(value);
  });
});
