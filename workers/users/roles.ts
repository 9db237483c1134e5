import { eq } from "drizzle-orm";
import { type UserRole, users } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";

/**
 * Gives the account with `email` the `role` (`npm run admin -- grant|revoke`): in Postgres, which
 * admin routes read on every request, with `updated_at` moved on, so the cron copies the account
 * into the user's object within a minute, and the account's next refresh claims the role. Answers
 * the account's id, or undefined when no account has the email.
 */
export async function setRole(db: Database, email: string, role: UserRole, now: Date): Promise<string | undefined> {
  const [updated] = await db.update(users).set({ role, updatedAt: now }).where(eq(users.email, email)).returning({ id: users.id });
  return updated?.id;
}
