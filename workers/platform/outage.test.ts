import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { callWithEnv, problemOf, signUpAdmin } from "../test/catalog.ts";
import { signUp, strongPassword } from "../test/helpers.ts";
import { DATABASE_RETRY_AFTER_SECONDS, outageWords } from "./outage.ts";

const databaseDown = { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL };
/** Accepts the connection and never answers (testing/hung-database.ts). */
const hungUrl = (env as Env & { TEST_HUNG_DATABASE_URL: string }).TEST_HUNG_DATABASE_URL;
const databaseHung = { DATABASE_URL: hungUrl, DATABASE_READ_URL: hungUrl };

async function expectOutage(response: Response, words: string) {
  expect(response.status).toBe(503);
  expect(response.headers.get("Retry-After")).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
  const problem = await problemOf(response);
  expect(problem).toMatchObject({ code: "unavailable", detail: words });
  expect(JSON.stringify(problem)).not.toMatch(/database_url|postgres|127\.0\.0\.1|sql/i);
}

describe("what needs Postgres says so while it cannot be reached", () => {
  it("sign-up and sign-in answer 503 with Retry-After and words a person can act on", async () => {
    const viewer = await signUp();
    await expectOutage(
      await callWithEnv(databaseDown, "/v1/auth/signup", {
        method: "POST",
        json: { email: `new-${crypto.randomUUID()}@example.com`, password: strongPassword, name: "New" },
      }),
      outageWords.signUp,
    );
    await expectOutage(
      await callWithEnv(databaseDown, "/v1/auth/signin", { method: "POST", json: { email: viewer.user.email, password: strongPassword } }),
      outageWords.signIn,
    );
  });

  it("subscription changes and admin writes answer 503 with their own words", async () => {
    const admin = await signUpAdmin();
    await expectOutage(
      await callWithEnv(databaseDown, "/v1/subscription", { method: "POST", token: admin.accessToken, json: { planId: "basic" } }),
      outageWords.plan,
    );
    await expectOutage(
      await callWithEnv(databaseDown, "/v1/admin/videos", {
        method: "POST",
        token: admin.accessToken,
        json: { title: "Down", summary: "Written while Postgres is down.", genres: ["drama"], releaseYear: 2020 },
      }),
      outageWords.catalogWrite,
    );
  });

  it("a hung database (accepts the connection, never answers) gives its 503 within the documented deadline, not the driver's connect timeout", async () => {
    const viewer = await signUp();
    // DATABASE_TIMEOUT_MS: unset in the tests, its default (workers/platform/config.ts).
    const deadlineMs = 3000;
    const started = Date.now();
    const response = await callWithEnv(databaseHung, "/v1/auth/signin", {
      method: "POST",
      json: { email: viewer.user.email, password: strongPassword },
    });
    const elapsed = Date.now() - started;
    await expectOutage(response, outageWords.signIn);
    // DATABASE_TIMEOUT_MS (3 s) plus the request's own work; the connect timeout used to be 5 s.
    expect(elapsed).toBeGreaterThanOrEqual(deadlineMs);
    expect(elapsed).toBeLessThan(deadlineMs + 1500);
  });
});
