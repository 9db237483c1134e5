import { describe, expect, it } from "vitest";
import { call, strongPassword, uniqueEmail } from "../test/helpers.ts";

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toContain("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({
    status,
    type: expect.stringMatching(/\/problems\//),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(body.requestId).toBe(response.headers.get("X-Request-Id"));
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/at .*\.(ts|js):\d+|SELECT |INSERT |127\.0\.0\.1|postgres:\/\//i);
  return body;
}

describe("problem+json for bad requests", () => {
  it("answers 400 for malformed JSON and does not create anything", async () => {
    const response = await call("/v1/auth/signup", {
      method: "POST",
      body: '{"email": "a@b.c", "password": ',
      headers: { "Content-Type": "application/json" },
    });
    await expectProblem(response, 400);
  });

  it("answers 400 for a JSON body that is not an object", async () => {
    for (const body of ["[]", "null", '"text"', "42"]) {
      const response = await call("/v1/auth/signin", { method: "POST", body, headers: { "Content-Type": "application/json" } });
      await expectProblem(response, 400);
    }
  });

  it("answers 415 when the body is not sent as JSON", async () => {
    const response = await call("/v1/auth/signin", {
      method: "POST",
      body: "email=a@b.c&password=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect((await expectProblem(response, 415)).detail).toMatch(/application\/json/);
  });

  it("answers 413 for a huge body before reading it all", async () => {
    const big = JSON.stringify({ email: uniqueEmail(), password: strongPassword, name: "x".repeat(2 * 1024 * 1024) });
    await expectProblem(await call("/v1/auth/signup", { method: "POST", body: big, headers: { "Content-Type": "application/json" } }), 413);
  });

  it("answers 413 for a streamed body without Content-Length that grows too large", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await call("/v1/auth/signup", {
      method: "POST",
      body: stream,
      headers: { "Content-Type": "application/json" },
      duplex: "half",
    } as RequestInit);
    await expectProblem(response, 413);
  });

  it("answers 404 for an unknown route and 405 with Allow for a wrong method", async () => {
    await expectProblem(await call("/v1/nothing-here"), 404);
    const wrongMethod = await call("/v1/auth/signup", { method: "GET" });
    await expectProblem(wrongMethod, 405);
    expect(wrongMethod.headers.get("Allow")).toBe("POST");
    const me = await call("/v1/me", { method: "DELETE" });
    await expectProblem(me, 405);
    expect(me.headers.get("Allow")).toContain("GET");
  });

  it("serves the OpenAPI 3.1 document with every contract route and the docs page", async () => {
    const response = await call("/openapi.json");
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const [path, method] of [
      ["/health", "get"],
      ["/v1/auth/signup", "post"],
      ["/v1/auth/signin", "post"],
      ["/v1/auth/refresh", "post"],
      ["/v1/auth/signout", "post"],
      ["/v1/me", "get"],
      ["/.well-known/jwks.json", "get"],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const docs = await call("/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("/openapi.json");
  });
});
