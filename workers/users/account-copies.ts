import { and, asc, eq, sql } from "drizzle-orm";
import type { VersionedAccount } from "../../durable-objects/viewer-state.ts";
import { type User, users } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import { COPY_BATCH, copyBehind, copyEach, copyVersion } from "../platform/object-copies.ts";
import type { Services } from "../platform/services.ts";
import type { PublicUser } from "./schema.ts";

/*
 * The account (id, email, name, role) lives in Postgres and is copied into the user's
 * `ViewerState`, where `GET /v1/me` and refresh read it without a query (platform/object-copies.ts).
 * Kept in step:
 * - sign-up and sign-in copy it as they open a session (service.ts);
 * - a change made where no push follows (`npm run admin -- grant`, any writer that only bumps
 *   `updated_at`) is copied by the cron within a minute (`syncAccountCopies`);
 * - an object that holds no copy yet is filled on first read (`accountOf`).
 */

export function toPublicUser(user: Pick<User, "id" | "email" | "name" | "role">): PublicUser {
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}

export function accountCopyOf(user: Pick<User, "id" | "email" | "name" | "role" | "updatedAt">): VersionedAccount {
  return { account: toPublicUser(user), version: user.updatedAt.getTime() };
}

const versionOf = copyVersion(users.updatedAt);

/**
 * The account as `GET /v1/me` shows it: the object's copy, or (an account from before the copies)
 * Postgres's row, copied into the object on the way.
 */
export async function accountOf(services: Services, userId: string, held: PublicUser | null): Promise<PublicUser> {
  if (held) return held;
  const [user] = await services.db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new ApiError("unauthorized", "This account no longer exists.");
  await services.viewerState(userId).putAccount(accountCopyOf(user));
  return toPublicUser(user);
}

async function markCopied(db: Database, userId: string, version: number): Promise<void> {
  await db
    .update(users)
    .set({ copiedAt: sql`${users.updatedAt}` })
    .where(and(eq(users.id, userId), sql`${versionOf} = ${version}`));
}

/**
 * The cron's half of keeping account copies in step: every account whose copy is behind (oldest
 * change first) is pushed to its object and marked. Answers how many were copied.
 */
export async function syncAccountCopies(services: Services): Promise<number> {
  const behind = await services.db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, version: versionOf })
    .from(users)
    .where(copyBehind(users.copiedAt, users.updatedAt))
    .orderBy(asc(users.updatedAt))
    .limit(COPY_BATCH);
  return copyEach(services, "accounts", behind, async ({ version, ...account }) => {
    await services.viewerState(account.id).putAccount({ account, version: Number(version) });
    await markCopied(services.db, account.id, Number(version));
  });
}
