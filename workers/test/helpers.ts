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
  // A random client address per request (IPv6 documentation space): per-client limits never meet by chance.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomAddress());
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

/** A client address nobody else uses: 2001:db8::/32, with 64 random bits. */
export function randomAddress(): string {
  const groups = Array.from(crypto.getRandomValues(new Uint16Array(4)), (group) => group.toString(16));
  return `2001:db8::${groups.join(":")}`;
}

/**
 * Waits, if need be, until `seconds` are left in the current window of the Rate Limiting
 * binding's `period`. Local windows are aligned to the clock (miniflare counts per
 * `floor(now / period)`), so a test that must see an exact count in one window starts early in one.
 */
export async function withinOneRateWindow(seconds: number, period = 60): Promise<void> {
  const left = period * 1000 - (Date.now() % (period * 1000));
  if (left < seconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
