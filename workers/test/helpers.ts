import { exports } from "cloudflare:workers";

/** Sends a request to the Worker under test, through its real fetch handler. */
export function call(path: string, init: RequestInit & { json?: unknown; token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.json !== undefined) headers.set("Content-Type", "application/json");
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", `198.51.100.${Math.floor(Math.random() * 250) + 1}`);
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
  return exports.default.fetch(new Request(`http://reelstream.test${path}`, { ...init, headers, body }));
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
