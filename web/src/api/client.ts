import { ApiProblem, NetworkError, problemFrom } from "./problem.ts";
import { withRetryAfter } from "./retry.ts";
import { getSession, refreshSession, type Session } from "./session.ts";

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  /** Send the access token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
  /** Keep the request going when the page is closed (the last progress heartbeat). */
  keepalive?: boolean;
  /**
   * Whether a 503 with `Retry-After` is asked again by itself (web/src/api/retry.ts). By default
   * GET and HEAD are, and nothing else: a caller says `true` for a write that, asked again, leaves
   * things as the first did (sign-in, setting a plan, setting fields). A progress heartbeat is not
   * (a later one carries a newer position), nor a create (it would make two).
   */
  repeatable?: boolean;
}

const readMethods = new Set(["GET", "HEAD"]);

const sessionOver = (status = 401) =>
  new ApiProblem({ title: "Signed out", status, detail: "Your session has ended. Sign in again to continue." });

/** An access token that is good for a while yet: refreshed first when its time is nearly up. */
export async function freshAccessToken(): Promise<string> {
  let session = getSession();
  if (!session) throw sessionOver();
  if (Date.now() >= session.refreshAt) session = await refreshOrFail();
  return session.accessToken;
}

async function refreshOrFail(): Promise<Session> {
  let next: Session | null;
  try {
    next = await refreshSession();
  } catch (error) {
    throw error instanceof ApiProblem ? error : new NetworkError(error);
  }
  if (!next) throw sessionOver();
  return next;
}

async function send(path: string, options: RequestOptions, token: string | undefined): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      keepalive: options.keepalive,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new NetworkError(error);
  }
}

/**
 * Calls the API on this origin. Answers the parsed JSON (undefined for 204); throws `ApiProblem`
 * for an error answer and `NetworkError` when there was none. A 401 on an authenticated call is
 * refreshed and retried once, whatever the access tokens' lifetime; a 503 with `Retry-After` is
 * retried by itself after that wait when the request is `repeatable`.
 *
 * @example
 * const { video } = await api<{ video: Video }>(`/v1/videos/${id}`);
 */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const auth = options.auth ?? true;
  const repeatable = !options.keepalive && (options.repeatable ?? readMethods.has(options.method ?? "GET"));
  const response = await withRetryAfter(
    async () => {
      const response = await send(path, options, auth ? await freshAccessToken() : undefined);
      if (!auth || response.status !== 401) return response;
      if (!getSession()) throw sessionOver();
      const refreshed = await refreshOrFail();
      const again = await send(path, options, refreshed.accessToken);
      if (again.status === 401) throw await problemFrom(again);
      return again;
    },
    { repeatable, signal: options.signal },
  );
  if (!response.ok) throw await problemFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
