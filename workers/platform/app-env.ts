import type { Services } from "./services.ts";

export interface AuthContext {
  userId: string;
  sessionId: string;
  role: "viewer" | "admin";
}

/** Hono generics shared by every module: bindings from wrangler, per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    services: Services;
    auth: AuthContext;
    /** Set by playback routes whose own Durable Object call checked the session (`sessionChecked`). */
    sessionChecked: boolean;
  };
}

/**
 * The profile a request acts for: the key of its per-profile state (progress, My List, ratings).
 * Every account starts with one profile whose id is the user id, so state kept per user before
 * profiles existed is that profile's.
 */
export function profileIdOf(auth: AuthContext): string {
  return auth.userId;
}
