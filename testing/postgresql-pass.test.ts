import { describe, expect, it } from "vitest";
import { postgresqlPass } from "./postgresql-pass.ts";

describe("the PostgreSQL pass of the Worker tests", () => {
  it("runs when PostgreSQL is installed, in CI or not", () => {
    expect(postgresqlPass({}, true)).toEqual({ run: true });
    expect(postgresqlPass({ CI: "true" }, true)).toEqual({ run: true });
  });

  it("fails CI loudly when PostgreSQL is missing, instead of dropping the project", () => {
    expect(() => postgresqlPass({ CI: "true" }, false)).toThrow(/PostgreSQL is not installed.*CI must run them against PostgreSQL/);
    expect(() => postgresqlPass({ CI: "1" }, false)).toThrow(/apt-get install postgresql/);
  });

  it("skips with a notice on a developer's machine without PostgreSQL", () => {
    for (const env of [{}, { CI: "false" }, { CI: "0" }]) {
      const pass = postgresqlPass(env, false);
      expect(pass.run).toBe(false);
      expect(pass.notice).toMatch(/Skipping the worker-postgresql project/);
    }
  });

  it("is not wanted when the first pass was pointed at a database, or turned off", () => {
    for (const env of [{ TEST_DATABASE_URL: "postgres://x" }, { TEST_DATABASE: "postgresql" }, { TEST_POSTGRESQL: "0" }]) {
      expect(postgresqlPass({ ...env, CI: "true" }, false)).toEqual({ run: false });
      expect(postgresqlPass(env, true)).toEqual({ run: false });
    }
  });
});
