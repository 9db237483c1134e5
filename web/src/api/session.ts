import { problemFrom } from "./problem.ts";
import type { AuthTokens, User } from "./types.ts";

/**
 * The signed-in session: tokens in localStorage (the API hands them out as JSON), shared by every
 * tab. A refresh token is single use and presenting a spent one ends the whole session, so tabs
 * take turns refreshing under a Web Lock and a tab that waited uses the pair the other one got.
 */
export interface Session {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token stops working. */
  expiresAt: number;
  /** Epoch ms when the app refreshes it: before it expires, whatever its lifetime. */
  refreshAt: number;
}

const STORAGE_KEY = "reelstream.session";
type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = read();
let timer: ReturnType<typeof setTimeout> | undefined;

function read(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** Refresh when a fifth of the lifetime is left (at least 5 s, at most a minute before expiry). */
export function refreshMargin(expiresInSeconds: number): number {
  return Math.min(60, Math.max(5, expiresInSeconds / 5)) * 1000;
}

export function sessionFromTokens(tokens: AuthTokens, now = Date.now()): Session {
  const expiresAt = now + tokens.expiresIn * 1000;
  return {
    user: tokens.user,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt,
    refreshAt: expiresAt - refreshMargin(tokens.expiresIn),
  };
}

export function getSession(): Session | null {
  return current;
}

export function setSession(session: Session | null): void {
  current = session;
  if (session) localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else localStorage.removeItem(STORAGE_KEY);
  schedule();
  for (const listener of listeners) listener(session);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Another tab signed in, refreshed or signed out. */
addEventListener("storage", (event) => {
  if (event.key !== STORAGE_KEY) return;
  current = read();
  schedule();
  for (const listener of listeners) listener(current);
});

function schedule() {
  clearTimeout(timer);
  if (!current) return;
  const stale = current;
  timer = setTimeout(
    () => {
      refreshSession(stale).catch(() => {
        // A failed background refresh is retried by the next request, which shows its error.
      });
    },
    Math.max(0, stale.refreshAt - Date.now()),
  );
}

/** Runs `work` while no other tab refreshes (Web Locks; run as is where a browser lacks them). */
async function exclusive<T>(work: () => Promise<T>): Promise<T> {
  if (!navigator.locks) return work();
  return (await navigator.locks.request("reelstream-refresh", work)) as T;
}

let inFlight: Promise<Session | null> | null = null;

/**
 * Trades `stale`'s refresh token for a new pair. Answers null when the session is over (the API
 * said 401: signed out, revoked or expired), and throws when the API could not be asked.
 */
export function refreshSession(stale: Session): Promise<Session | null> {
  inFlight ??= exclusive(async () => {
    const stored = read();
    // Another tab refreshed (or signed out) while this one waited for the lock.
    if (!stored || stored.refreshToken !== stale.refreshToken) {
      current = stored;
      schedule();
      for (const listener of listeners) listener(stored);
      return stored;
    }
    const response = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: stale.refreshToken }),
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

schedule();
