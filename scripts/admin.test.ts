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
    // An account whose copy the user's object holds (copied_at = updated_at), as sign-up leaves it.
    await proxied.query(
      "insert into users (id, email, name, password_hash, updated_at, copied_at) values ('u1', 'ops@example.com', 'Ops', 'x', now(), now())",
    );
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

  /** Whether the account's copy in its user's object is behind Postgres (what the Worker's cron copies). */
  async function copyBehind(): Promise<boolean> {
    const pool = createNodePool(pg.url, pg.wsProxy);
    try {
      const { rows } = await pool.query("select copied_at is distinct from updated_at as behind from users where id = 'u1'");
      return rows[0]?.behind === true;
    } finally {
      await pool.end();
    }
  }

  it("grants, lists and revokes the admin role by email, in any case", async () => {
    expect(await copyBehind()).toBe(false);
    const granted = await admin("grant", "OPS@Example.com");
    expect(granted.code).toBe(0);
    expect(granted.stdout).toMatch(/ops@example\.com is now an admin/);
    // The change waits for the Worker's cron, which copies it into the account's object.
    expect(granted.stdout).toMatch(/within a minute/);
    expect(await copyBehind()).toBe(true);
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
