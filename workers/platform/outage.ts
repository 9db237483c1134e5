import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";

/**
 * What a route that needs Postgres tells a person while Postgres cannot be reached. A route
 * declares its words in its `middleware` list (`whenDatabaseIsDown(outageWords.signIn)`); `onError`
 * answers 503 problem+json with them and `Retry-After` (workers/platform/http-errors.ts). A route
 * that declares none gets `outageWords.fallback`. The viewer's path (browse, refresh, play,
 * heartbeats) needs no Postgres and never says this.
 */

/** How long a client should wait before it tries again: the web app retries by itself, backing off from here. */
export const DATABASE_RETRY_AFTER_SECONDS = 30;

const later = `Try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds.`;

export const outageWords = {
  signUp: `We can't create your account right now: our account service is unavailable. Nothing was saved. ${later}`,
  signIn: `We can't sign you in right now: our account service is unavailable. If you are signed in on another device, you can keep watching there. ${later}`,
  plan: `We can't change your plan right now: our subscription service is unavailable. Nothing was changed or charged. ${later}`,
  catalogWrite: `Saving is unavailable right now: the catalog database cannot be reached. Nothing was saved. ${later}`,
  upload: `Uploads are paused right now: the catalog database cannot be reached. Nothing was lost: resume the upload then. ${later}`,
  search: `Search is unavailable right now: the catalog's search cannot be reached. Browse the home page meanwhile. ${later}`,
  fallback: `This is unavailable for a moment: part of our service cannot be reached. ${later}`,
} as const;

declare module "hono" {
  interface ContextVariableMap {
    /** What this route says when Postgres cannot be reached (`whenDatabaseIsDown`). */
    outageDetail: string;
  }
}

/**
 * Declares the words a route answers with while Postgres cannot be reached.
 *
 * @example
 * createRoute({ method: "post", path: "/v1/auth/signin", middleware: [jsonBodyLimit, whenDatabaseIsDown(outageWords.signIn)] as const, ... })
 */
export function whenDatabaseIsDown(detail: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("outageDetail", detail);
    await next();
  });
}
