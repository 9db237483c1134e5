import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodePool } from "./lib/database.ts";
import { type LocalDatabase, repoRoot, startDatabase } from "./lib/local-stack/index.ts";

const run = promisify(execFile);

/** `npm run admin` against `DATABASE_URL`, as an operator would run it. */
describe("npm run admin", () => {
  let pg: LocalDatabase;

  beforeAll(async () => {
    pg = await startDatabase({ kind: "pglite" });
    const proxied = createNodePool(pg.url, pg.wsProxy);
    await proxied.query("insert into users (id, email, name, password_hash) values ('u1', 'ops@example.com', 'Ops', 'x')");
    await proxied.end();
  });

  afterAll(async () => {
    await pg?.stop();
  });

  const admin = (...args: string[]) =>
    run(process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), "scripts/admin.ts", ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: pg.url },
    }).then(
      (result) => ({ code: 0, ...result }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("grants, lists and revokes the admin role by email, in any case", async () => {
    const granted = await admin("grant", "OPS@Example.com");
    expect(granted.code).toBe(0);
    expect(granted.stdout).toMatch(/ops@example\.com is now an admin/);
    expect((await admin("list")).stdout).toContain("ops@example.com");
    expect((await admin("revoke", "ops@example.com")).stdout).toMatch(/now a viewer/);
    expect((await admin("list")).stdout).toMatch(/no admins yet/);
  });

  it("says what to do for an unknown email or a wrong command", async () => {
    const unknown = await admin("grant", "nobody@example.com");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No account with the email nobody@example.com.*Sign up first/);
    const wrong = await admin("promote");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/usage: npm run admin -- grant <email>/);
  });
});
