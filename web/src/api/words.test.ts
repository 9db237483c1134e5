import { describe, expect, it } from "vitest";
import type { ProblemCode } from "../../../workers/platform/errors.ts";
import { ApiProblem, NetworkError } from "./problem.ts";
import { describeError, fieldWords, type Task } from "./words.ts";

/** Every problem code the API can answer (a code added there is a type error here until listed). */
const codes = {
  "bad-request": 400,
  validation: 400,
  unauthorized: 401,
  "invalid-credentials": 401,
  "payment-required": 402,
  forbidden: 403,
  "stream-replaced": 403,
  "stream-ended": 403,
  "stream-taken-over": 403,
  "not-found": 404,
  "method-not-allowed": 405,
  conflict: 409,
  gone: 410,
  "length-required": 411,
  "precondition-failed": 412,
  "payload-too-large": 413,
  "unsupported-media-type": 415,
  "too-many-requests": 429,
  internal: 500,
  unavailable: 503,
} satisfies Record<ProblemCode, number>;

const tasks: Task[] = [
  "sign-in",
  "sign-up",
  "sign-out",
  "plans",
  "change-plan",
  "browse",
  "search",
  "title",
  "play",
  "save-place",
  "admin",
  "admin-save",
  "admin-delete",
  "upload",
  "page",
];

/** Developer wording the issue found reaching viewers: routes, ids, zod's messages. */
const developerWords = /\/v1\/|POST|GET|\bbody\b|Invalid input|expected|zod|'[a-z0-9]{20}'|\bid\b/;

describe("words for people", () => {
  it("says every problem, met doing anything, without the API's detail, a route or an id, and never the same sentence twice", () => {
    for (const [code, status] of Object.entries(codes)) {
      const problem = new ApiProblem(
        {
          type: `https://reelstream.dev/problems/${code}`,
          title: "Some fields of the body are not valid",
          status,
          code,
          detail: "There is no video with id 'abcdefghij0123456789'. Choose a plan with POST /v1/subscription.",
          errors: [{ path: "releaseYear", message: "Invalid input: expected number, received string" }],
        },
        7,
      );
      for (const task of tasks) {
        const words = describeError(problem, task);
        const text = `${words.title} ${words.body}`;
        expect(text, `${code} ${task}`).not.toMatch(developerWords);
        expect(text, `${code} ${task}`).not.toContain("Some fields of the body");
        const sentences = words.body.split(/(?<=\.)\s+/);
        expect(new Set(sentences).size, `${code} ${task}`).toBe(sentences.length);
        expect(words.body.toLowerCase(), `${code} ${task}`).not.toContain(words.title.toLowerCase());
      }
    }
  });

  it("says what to do: a plan for 402, the wait for 429 and 503, another device for a takeover", () => {
    const problem = (code: ProblemCode, retryAfter: number | null = null) =>
      new ApiProblem({ type: "", title: "", status: codes[code], code }, retryAfter);
    expect(describeError(problem("payment-required"), "play").title).toBe("You need a plan to watch");
    expect(describeError(problem("too-many-requests", 30), "sign-in")).toMatchObject({
      title: "Too many attempts",
      body: "Wait 30 seconds and try again.",
    });
    expect(describeError(problem("unavailable", 5), "browse").body).toBe("We could not load the titles just now. Try again in 5 seconds.");
    expect(describeError(problem("stream-taken-over"), "play").body).toContain("another device chose to watch there instead");
    expect(describeError(problem("invalid-credentials"), "sign-in")).toMatchObject({
      title: "Wrong email or password",
      body: "Check both and try again.",
    });
    expect(describeError(new NetworkError(new TypeError("Failed to fetch")), "search")).toMatchObject({
      title: "No connection",
      retry: true,
    });
  });

  it("puts the app's instruction beside each field the API names, chosen from what was typed", () => {
    const problem = new ApiProblem({
      type: "",
      title: "",
      status: 400,
      code: "validation",
      errors: [
        { path: "releaseYear", message: "Invalid input: expected number, received string" },
        { path: "genres.3", message: "Too big" },
        { path: "password", message: "String must contain at least 10 character(s)" },
      ],
    });
    expect(fieldWords(problem, { releaseYear: "19x4", genres: ["a"], password: "short" }, "sign-up")).toEqual({
      releaseYear: "Enter the year as four digits, like 1994.",
      genres: "Up to 10 genres, separated by commas, each up to 40 letters, digits, spaces, '&', apostrophes or hyphens.",
      password: "Use at least 10 characters.",
    });
  });
});
