import type { MaturityRank } from "../../schema/maturity/ratings.ts";
import type { Services } from "./services.ts";

export interface AuthContext {
  userId: string;
  sessionId: string;
  role: "viewer" | "admin";
  /** The profile the session acts for (the token's `pid`): the user id for the default profile. */
  profileId: string;
  /**
   * The profile's maturity ceiling when the token was signed (`mc`, 0 `all` … 4 `18+`): browse,
   * search and title pages filter by it with no Durable Object call; play checks the object's.
   */
  maturityCeiling: MaturityRank;
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
  return auth.profileId;
}
