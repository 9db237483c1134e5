import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_BASE = "https://reelstream.dev/problems/";

export interface FieldError {
  path: string;
  message: string;
}

/** Problem kinds: slug, HTTP status and the title a client sees (RFC 9457). */
export const problems = {
  "bad-request": { status: 400, title: "Bad request" },
  validation: { status: 400, title: "The request is not valid" },
  unauthorized: { status: 401, title: "Authentication required" },
  "invalid-credentials": { status: 401, title: "Wrong email or password" },
  "payment-required": { status: 402, title: "An active subscription is required" },
  forbidden: { status: 403, title: "Not allowed" },
  // A stream that may not be served any more, by reason, so a player can say which (docs/playback.md).
  "stream-replaced": { status: 403, title: "This session is playing something else" },
  "stream-ended": { status: 403, title: "This stream has ended" },
  "stream-taken-over": { status: 403, title: "Another device is watching instead" },
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
