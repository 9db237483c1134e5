import type { ProblemDocument } from "./types.ts";

/**
 * An RFC 9457 problem+json answer, as every API error is: the Worker's shape, of which the app
 * needs `title` and `status` (a problem it makes itself, such as "Signed out", has only those).
 */
export type Problem = Pick<ProblemDocument, "title" | "status"> & Partial<ProblemDocument>;

/** The API said no: its problem, and `Retry-After` in seconds when it sent one. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly retryAfterSeconds: number | null;

  constructor(problem: Problem, retryAfterSeconds: number | null = null) {
    super(problem.detail ?? problem.title);
    this.name = "ApiProblem";
    this.status = problem.status;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The message for a field (`errors[].path`, first segment: `genres.0` belongs to `genres`). */
  fieldError(field: string): string | undefined {
    return this.problem.errors?.find((error) => error.path.split(".")[0] === field)?.message;
  }
}

/** The request never got an answer: offline, DNS, a dropped connection. Worth a retry. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super("Reelstream could not be reached. Check your connection and try again.", { cause });
    this.name = "NetworkError";
  }
}

/** `Retry-After` in seconds (a number or an HTTP date), or null without one. */
export function retryAfter(response: Response): number | null {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

/** Reads a failed response as a problem; a body that is not one still becomes a readable message. */
export async function problemFrom(response: Response): Promise<ApiProblem> {
  let problem: Problem | undefined;
  try {
    const body = (await response.json()) as Partial<Problem>;
    if (body && typeof body.title === "string") problem = { ...body, title: body.title, status: response.status };
  } catch {
    // not JSON: described below
  }
  problem ??= {
    title: response.statusText || "Request failed",
    status: response.status,
    detail: `The server answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}. Try again in a moment.`,
  };
  return new ApiProblem(problem, retryAfter(response));
}
