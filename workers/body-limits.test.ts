import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { JSON_BODY_LIMIT_BYTES } from "./platform/body-limit.ts";
import { signUpAdmin } from "./test/catalog.ts";
import { call } from "./test/helpers.ts";
import { concretePath, documentedOperations, type Operation } from "./test/openapi.ts";

/**
 * Body limits are declared per route: every route that takes JSON lists `jsonBodyLimit` (64 KiB)
 * in its middleware, or a smaller `jsonBodyLimitOf` (the player's 4 KiB beacons), and the upload routes, which stream media to R2, keep their own limits. The
 * table comes from the Worker's own /openapi.json, so a JSON route added tomorrow that forgets its
 * limit fails here.
 */

let jsonRoutes: Operation[];

beforeAll(async () => {
  jsonRoutes = (await documentedOperations()).filter((operation) => operation.jsonBody);
});

/** A body one byte over the limit, as JSON text (what a client that ignores the limit sends). */
const oversize = `{"x":"${"a".repeat(JSON_BODY_LIMIT_BYTES - 7)}"}`;

/** The same bytes without Content-Length: read until they pass the limit, then refused. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + 16 * 1024));
      at += 16 * 1024;
    },
  });
}

async function expectTooLarge(operation: Operation, response: Response, failures: string[], how: string) {
  const label = `${operation.method} ${operation.path} (${how})`;
  if (response.status !== 413) {
    failures.push(`${label}: ${response.status}`);
    await response.body?.cancel();
    return;
  }
  expect(response.headers.get("Content-Type"), label).toContain("application/problem+json");
  const problem = (await response.json()) as { code: string; detail: string };
  expect(problem.code, label).toBe("payload-too-large");
  // 64 KiB, or the route's own smaller limit (POST /v1/qoe: 4 KiB).
  expect(problem.detail, label).toMatch(/larger than (64|4) KiB, the most this route accepts/);
}

describe("JSON routes, from /openapi.json", () => {
  it("lists the routes that take JSON (the table is not empty)", () => {
    expect(jsonRoutes.map((operation) => `${operation.method} ${operation.path}`)).toEqual(
      expect.arrayContaining(["POST /v1/auth/signup", "PUT /v1/videos/{id}/progress", "PATCH /v1/admin/videos/{id}"]),
    );
    expect(jsonRoutes.length).toBeGreaterThanOrEqual(7);
  });

  it("refuse a body over 64 KiB with 413 problem+json in words, by Content-Length and when streamed", async () => {
    expect(new TextEncoder().encode(oversize).byteLength).toBe(JSON_BODY_LIMIT_BYTES + 1);
    const failures: string[] = [];
    for (const operation of jsonRoutes) {
      const path = concretePath(operation.path);
      const headers = { "Content-Type": "application/json" };
      await expectTooLarge(operation, await call(path, { method: operation.method, headers, body: oversize }), failures, "Content-Length");
      const init = { method: operation.method, headers, body: streamed(oversize), duplex: "half" } as RequestInit;
      await expectTooLarge(operation, await call(path, init), failures, "streamed");
    }
    expect(failures).toEqual([]);
  });

  it("read a body of exactly 64 KiB (the limit is not below it)", async () => {
    // Sign-in reads it and refuses the password by its own rule (400), not by size.
    const password = "a".repeat(JSON_BODY_LIMIT_BYTES - `{"email":"a@example.com","password":""}`.length);
    const body = JSON.stringify({ email: "a@example.com", password });
    expect(new TextEncoder().encode(body).byteLength).toBe(JSON_BODY_LIMIT_BYTES);
    const response = await call("/v1/auth/signin", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { path: string }[] }).errors.map((error) => error.path)).toEqual(["password"]);
  });
});

describe("upload routes keep their own limits", () => {
  const size = 4 * JSON_BODY_LIMIT_BYTES + 17;
  const bytes = new Uint8Array(size).map((_, index) => index % 251);
  let admin: string;

  beforeAll(async () => {
    admin = (await signUpAdmin()).accessToken;
  });

  async function newVideo(): Promise<string> {
    const response = await call("/v1/admin/videos", {
      method: "POST",
      token: admin,
      json: { title: "Body limits", summary: "An upload larger than a JSON body.", genres: ["drama"], releaseYear: 2024 },
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { video: { id: string } }).video.id;
  }

  it("PUT /v1/admin/videos/{id}/source stores a body of four times 64 KiB whole", async () => {
    const videoId = await newVideo();
    const response = await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: admin, body: bytes });
    expect(response.status, await response.clone().text()).toBe(202);
    expect(await response.json()).toMatchObject({ bytes: size });
    const listed = await env.MEDIA.list({ prefix: `masters/${videoId}/` });
    expect(listed.objects.map((object) => object.size)).toEqual([size]);
  });

  it("a tus PATCH takes a streamed body of four times 64 KiB in one request", async () => {
    const videoId = await newVideo();
    const created = await call(`/v1/admin/videos/${videoId}/uploads`, {
      method: "POST",
      token: admin,
      headers: { "Tus-Resumable": "1.0.0", "Upload-Length": String(size) },
    });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get("Location") ?? "").pathname;
    const response = await call(location, {
      method: "PATCH",
      token: admin,
      headers: { "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      body: new Blob([bytes]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(response.status, await response.clone().text()).toBe(204);
    expect(response.headers.get("Upload-Offset")).toBe(String(size));
  });
});
