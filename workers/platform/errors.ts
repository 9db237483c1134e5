import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./app-env.ts";

export const PROBLEM_BASE = "https://reelstream.dev/problems/";

export interface FieldError {
  path: string;
  message: string;
}

/** Problem kinds: slug, HTTP status and the title a client sees (RFC 9457). */
const problems = {
  "bad-request": { status: 400, title: "Bad request" },
  validation: { status: 400, title: "The request is not valid" },
  unauthorized: { status: 401, title: "Authentication required" },
  "invalid-credentials": { status: 401, title: "Wrong email or password" },
  "payment-required": { status: 402, title: "An active subscription is required" },
  forbidden: { status: 403, title: "Not allowed" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  gone: { status: 410, title: "Gone" },
  "length-required": { status: 411, title: "Content-Length required" },
  "precondition-failed": { status: 412, title: "Precondition failed" },
  "payload-too-large": { status: 413, title: "Request body too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "too-many-requests": { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  unavailable: { status: 503, title: "Service temporarily unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemCode = keyof typeof problems;

/**
 * The one error handlers throw. `onError` turns it into problem+json.
 *
 * @example
 * throw new ApiError("conflict", "An account with this email already exists.");
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string>; title?: string } = {},
  ) {
    super(detail);
    this.status = problems[code].status;
    this.title = options.title ?? problems[code].title;
  }
}

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

/** SQLSTATE classes that mean "the database cannot serve now", not "the query is wrong". */
const unavailableSqlStates = /^(08|53|57)/;

/**
 * True for errors of the database connection: refused, dropped, timed out, or shut down.
 * Drizzle wraps driver errors in `cause`; an error without a SQLSTATE never reached Postgres.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== "object") return false;
    const { code, message, name } = current as { code?: unknown; message?: unknown; name?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return unavailableSqlStates.test(code);
    if (typeof code === "string" && /^E(CONN|TIMEDOUT|HOSTUNREACH|PIPE|AI_AGAIN)/.test(code)) return true;
    if (name === "DatabaseTimeoutError") return true;
    if (typeof message === "string" && /websocket|connection (terminated|refused|closed)|network connection lost/i.test(message)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * What an error says for the logs. Drizzle's own message repeats the query's parameters (emails,
 * tokens): log the driver's cause instead. A WebSocket's `ErrorEvent` (what the Neon driver emits
 * when its socket fails) is not an Error and would print as "[object ErrorEvent]": its message is used.
 */
export function describeForLog(error: unknown): string {
  let current: unknown = error;
  while (current instanceof DrizzleQueryError && current.cause) current = current.cause;
  if (current instanceof Error) return `${current.name}: ${current.message}`;
  if (typeof current === "object" && current !== null && "type" in current) {
    const event = current as { type: unknown; message?: unknown; error?: unknown };
    const inner =
      event.error instanceof Error ? describeForLog(event.error) : typeof event.message === "string" && event.message ? event.message : "";
    return `${String(event.type)} event${inner ? `: ${inner}` : ""}`;
  }
  return String(current);
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
  if (isDatabaseUnavailable(error)) {
    console.error(
      JSON.stringify({ level: "error", requestId: c.get("requestId"), msg: "database unavailable", error: describeForLog(error) }),
    );
    return problemResponse(
      c,
      new ApiError("unavailable", "The database cannot be reached right now. Try again in a few seconds.", {
        headers: { "Retry-After": "5" },
      }),
    );
  }
  console.error(
    JSON.stringify({
      level: "error",
      requestId: c.get("requestId"),
      msg: "unhandled error",
      error: describeForLog(error),
      stack: error instanceof Error && !(error instanceof DrizzleQueryError) ? error.stack : undefined,
    }),
  );
  return problemResponse(c, new ApiError("internal", "Something went wrong on our side. The request id helps us find it."));
}
