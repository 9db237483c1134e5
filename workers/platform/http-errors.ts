import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env.ts";
import { isDatabaseUnavailable } from "./describe-error.ts";
import { ApiError, PROBLEM_BASE, type ProblemCode, problems } from "./errors.ts";
import { createLogger } from "./logger.ts";
import { DATABASE_RETRY_AFTER_SECONDS, outageWords } from "./outage.ts";

/** An `ApiError` as the contract's problem+json (RFC 9457), with `code` and `requestId`. */
export function problemResponse(c: Context<AppEnv>, error: ApiError): Response {
  const body = {
    type: PROBLEM_BASE + error.code,
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    requestId: c.get("requestId"),
    ...(error.options.errors ? { errors: error.options.errors } : {}),
  };
  const headers = new Headers(error.options.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("X-Request-Id", body.requestId);
  if (error.status === 401 && !headers.has("WWW-Authenticate")) {
    headers.set("WWW-Authenticate", 'Bearer realm="reelstream"');
  }
  if (error.status === 503 && !headers.has("Retry-After")) headers.set("Retry-After", "5");
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** `app.onError`: ApiError, then HTTPException, then the database, then a bare 500. */
export function handleError(error: unknown, c: Context<AppEnv>): Response {
  if (error instanceof ApiError) return problemResponse(c, error);
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 413) return problemResponse(c, new ApiError("payload-too-large", error.message || "The body is too large."));
    if (status === 400) {
      return problemResponse(c, new ApiError("bad-request", error.message || "The request could not be read."));
    }
    if (status === 415) {
      return problemResponse(c, new ApiError("unsupported-media-type", "Send the body as JSON, with Content-Type: application/json."));
    }
    const code = (Object.keys(problems) as ProblemCode[]).find((key) => problems[key].status === status) ?? "internal";
    return problemResponse(c, new ApiError(code, error.message || problems[code].title));
  }
  const log = c.var.services?.log ?? createLogger({ requestId: c.get("requestId") });
  if (isDatabaseUnavailable(error)) {
    log.error("database unavailable", { error });
    return problemResponse(
      c,
      new ApiError("unavailable", c.get("outageDetail") ?? outageWords.fallback, {
        headers: { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
      }),
    );
  }
  log.error("unhandled error", { error, stack: error instanceof Error && !(error instanceof DrizzleQueryError) ? error.stack : undefined });
  return problemResponse(c, new ApiError("internal", "Something went wrong on our side. The request id helps us find it."));
}
