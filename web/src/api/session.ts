import { problemFrom } from "./problem.ts";
import type { AuthTokens, User } from "./types.ts";

/**
 * The signed-in session, in this tab's memory only (docs/web.md "Sessions"): the refresh token is
 * an HttpOnly cookie the API sets for `/v1/auth/refresh` (sign-in asks for it with
 * `refreshTokenIn: "cookie"`), so no script on the page, ours or an injected one, can read either
 * token from storage. A page load gets its access token by refreshing with that cookie
 * (`restoreSession`, before the app renders). All localStorage holds is `SIGNED_IN`, a flag with
 * no secret: whether a refresh is worth asking for, and how tabs tell each other of sign-in and
 * sign-out.
 */
export interface Session {
  user: User;
  accessToken: string;
  /** Epoch ms when the access token stops working. */
  expiresAt: number;
  /** Epoch ms when the app refreshes it: before it expires, whatever its lifetime. */
  refreshAt: number;
}

const SIGNED_IN = "reelstream.signed-in";
// Where builds before the refresh cookie kept both tokens: removed, so no token outlives the upgrade
// in storage (such a browser signs in once more, and gets the cookie).
localStorage.removeItem("reelstream.session");
type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;

/** Refresh when a fifth of the lifetime is left (at least 5 s, at most a minute before expiry). */
export function refreshMargin(expiresInSeconds: number): number {
  return Math.min(60, Math.max(5, expiresInSeconds / 5)) * 1000;
}

export function sessionFromTokens(tokens: AuthTokens, now = Date.now()): Session {
  const expiresAt = now + tokens.expiresIn * 1000;
  return { user: tokens.user, accessToken: tokens.accessToken, expiresAt, refreshAt: expiresAt - refreshMargin(tokens.expiresIn) };
}

export function getSession(): Session | null {
  return current;
}

function use(session: Session | null): void {
  current = session;
  schedule();
  for (const listener of listeners) listener(session);
}

/** This tab signed in (the cookie is set) or out: tells the other tabs too. */
export function setSession(session: Session | null): void {
  if (session) localStorage.setItem(SIGNED_IN, "1");
  else localStorage.removeItem(SIGNED_IN);
  use(session);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Another tab signed in (this one asks for its own access token) or signed out (so is this one). */
addEventListener("storage", (event) => {
  if (event.key !== SIGNED_IN && event.key !== null) return;
  if (localStorage.getItem(SIGNED_IN)) {
    if (!current) void restoreSession();
  } else if (current) {
    use(null);
  }
});

function schedule() {
  clearTimeout(timer);
  if (!current) return;
  timer = setTimeout(
    () => {
      refreshSession().catch(() => {
        // A failed background refresh is retried by the next request, which shows its error.
      });
    },
    Math.max(0, current.refreshAt - Date.now()),
  );
}

/** Runs `work` while no other tab refreshes (Web Locks; run as is where a browser lacks them). */
async function exclusive<T>(work: () => Promise<T>): Promise<T> {
  if (!navigator.locks) return work();
  return (await navigator.locks.request("reelstream-refresh", work)) as T;
}

let inFlight: Promise<Session | null> | null = null;

/**
 * Trades the refresh cookie for a new access token (and the cookie for its successor). Answers
 * null when the session is over (the API said 401: signed out, revoked or expired), and throws
 * when the API could not be asked. Tabs take turns (a Web Lock), so each one presents the cookie
 * the last refresh set; two that do not still both succeed (the API's refresh grace).
 */
export function refreshSession(): Promise<Session | null> {
  inFlight ??= exclusive(async () => {
    // JSON, with no token in it: the cookie carries it, and the API refuses a refresh that is not JSON.
    const response = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    if (response.status === 401) {
      setSession(null);
      return null;
    }
    if (!response.ok) throw await problemFrom(response);
    const next = sessionFromTokens((await response.json()) as AuthTokens);
    setSession(next);
    return next;
  }).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/**
 * The session of a page that has just loaded: a refresh with the cookie when this browser signed
 * in (no request otherwise). Never throws: a refresh that could not be made leaves the tab signed
 * out and the flag in place, so the next load tries again.
 */
export async function restoreSession(): Promise<Session | null> {
  if (!localStorage.getItem(SIGNED_IN)) return null;
  try {
    return await refreshSession();
  } catch {
    return null;
  }
}
