/**
 * Whether `npm test` runs the Worker's tests a second time, against a throw-away cluster of this
 * machine's PostgreSQL (the `worker-postgresql` project of vitest.config.ts):
 * - not when the first pass was pointed elsewhere (`TEST_DATABASE_URL`, `TEST_DATABASE`) or
 *   `TEST_POSTGRESQL=0` turns it off;
 * - yes when PostgreSQL is installed;
 * - when it is missing: skipped with a notice on a developer's machine, and an error in CI (`CI`
 *   set), where a green run must mean the tests ran against PostgreSQL too (`.ci/run` installs it).
 *
 * @example
 * postgresqlPass(process.env, installedPostgresql() !== undefined) // { run: false, notice: "…" }
 */
export function postgresqlPass(env: Record<string, string | undefined>, installed: boolean): { run: boolean; notice?: string } {
  if (env.TEST_DATABASE_URL || env.TEST_DATABASE || env.TEST_POSTGRESQL === "0") return { run: false };
  if (installed) return { run: true };
  const missing = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb), so the Worker tests would run against PGlite only.";
  if (env.CI && env.CI !== "false" && env.CI !== "0") {
    throw new Error(`${missing} CI must run them against PostgreSQL too: apt-get install postgresql (.ci/run does).`);
  }
  return { run: false, notice: `${missing} Skipping the worker-postgresql project (apt-get install postgresql to run it).` };
}
