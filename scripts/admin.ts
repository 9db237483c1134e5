/**
 * `npm run admin -- grant <email>` / `revoke <email>` / `list`: manages the admin role, against
 * DATABASE_URL if set, else the running `npm start`'s database, else the embedded one.
 */
import { eq } from "drizzle-orm";
import { users } from "../schema/index.ts";
import { setRole } from "../workers/users/roles.ts";
import { normalizeEmail } from "../workers/users/schema.ts";
import { createNodeDb, createNodePool } from "./lib/database.ts";
import { connectDatabase } from "./lib/local-stack/index.ts";

const usage = "usage: npm run admin -- grant <email> | revoke <email> | list";

async function main() {
  const [command, rawEmail] = process.argv.slice(2);
  if (!command || !["grant", "revoke", "list"].includes(command) || (command !== "list" && !rawEmail)) {
    console.error(usage);
    return 2;
  }
  const database = await connectDatabase();
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    const db = createNodeDb(pool);
    if (command === "list") {
      const admins = await db.select({ email: users.email, name: users.name }).from(users).where(eq(users.role, "admin"));
      console.log(admins.length ? admins.map((admin) => `${admin.email}\t${admin.name}`).join("\n") : "no admins yet");
      return 0;
    }
    const email = normalizeEmail(rawEmail ?? "");
    const role = command === "grant" ? "admin" : "viewer";
    if (!(await setRole(db, email, role, new Date()))) {
      console.error(`No account with the email ${email} in ${database.source}. Sign up first (POST /v1/auth/signup), then run this again.`);
      return 1;
    }
    console.log(
      `${email} is now ${role === "admin" ? "an admin" : "a viewer"} (${database.source}). Admin routes check it on every request; ` +
        "the Worker's cron copies it to the account's sessions within a minute, and their next refresh carries it.",
    );
    return 0;
  } finally {
    await pool.end();
    await database.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
