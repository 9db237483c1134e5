import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { callWithEnv, problemOf, signUpAdmin } from "../test/catalog.ts";
import { signUp, strongPassword } from "../test/helpers.ts";
import { captureConsole } from "../test/telemetry.ts";
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

  it("a hung database (accepts the connection, never answers) gives its 503 from the deadline of the use, connecting included, not the driver's connect timeout", async () => {
    const viewer = await signUp();
    const logs = captureConsole();
    const response = await callWithEnv(databaseHung, "/v1/auth/signin", {
      method: "POST",
      json: { email: viewer.user.email, password: strongPassword },
    });
    await expectOutage(response, outageWords.signIn);
    // What fired, as the Worker logged it: the deadline (DATABASE_TIMEOUT_MS, unset here: its
    // default, 3000 ms), while connecting, measured on the Worker's monotonic clock; not the
    // driver's own connect timeout ("timeout expired"), which is only a backstop 2 s later.
    const line = logs
      .map((text) => JSON.parse(text) as { msg?: string; error?: string })
      .find((entry) => entry.msg === "database unavailable");
    expect(line?.error).toMatch(/^DatabaseDeadlineExceeded: database deadline of 3000 ms passed while connecting/);
    expect(line?.error).not.toMatch(/timeout expired/);
    const waited = Number(/waited (\d+) ms/.exec(line?.error ?? "")?.[1]);
    expect(waited).toBeGreaterThanOrEqual(3000);
    expect(waited).toBeLessThan(3000 + 2000);
  });
});
