import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../index.ts";

export interface CallInit extends RequestInit {
  json?: unknown;
  token?: string;
  /** Bindings or vars to replace for this request (a broken KV, another APP_ENV). */
  env?: Partial<Env>;
}

/**
 * Sends a request to the Worker under test, through its real fetch handler, and waits for the
 * request's background work (cache fills, pool closing) before answering: the next request sees
 * everything this one wrote, with no sleeps.
 */
export async function call(path: string, init: CallInit = {}): Promise<Response> {
  const { json, token, env: overrides, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("Content-Type", "application/json");
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", `198.51.100.${Math.floor(Math.random() * 250) + 1}`);
  const body = json !== undefined ? JSON.stringify(json) : rest.body;
  // An HTTP client sends the length of a body it knows whole; a stream goes without one.
  const length = knownLength(body);
  if (length !== undefined && !headers.has("Content-Length")) headers.set("Content-Length", String(length));
  const ctx = createExecutionContext();
  const request = new Request(`http://reelstream.test${path}`, { ...rest, headers, body });
  const response = await worker.fetch(request, overrides ? { ...env, ...overrides } : env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function knownLength(body: BodyInit | null | undefined): number | undefined {
  if (typeof body === "string") return new TextEncoder().encode(body).byteLength;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof Blob) return body.size;
  return undefined;
}

export function uniqueEmail(label = "viewer"): string {
  return `${label}-${crypto.randomUUID()}@example.com`;
}

export const strongPassword = "correct horse battery staple";

export interface SignedIn {
  user: { id: string; email: string; name: string; role: string };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Signs up a fresh viewer and returns its tokens. */
export async function signUp(overrides: Partial<{ email: string; password: string; name: string }> = {}): Promise<SignedIn> {
  const response = await call("/v1/auth/signup", {
    method: "POST",
    json: { email: uniqueEmail(), password: strongPassword, name: "Test Viewer", ...overrides },
  });
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${await response.text()}`);
  return response.json();
}
