import { and, asc, eq, sql } from "drizzle-orm";
import { plans, subscriptions } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import type { SubscriptionCopy, VersionedSubscription } from "../platform/entitlement.ts";
import { COPY_BATCH, copyBehind, copyEach, copyVersion } from "../platform/object-copies.ts";
import type { Services } from "../platform/services.ts";

/*
 * The entitlement lives in the user's `ViewerState` (play checks it in the same call as the screen
 * lease, with no query); Postgres stays the record. This module keeps the two in step
 * (platform/object-copies.ts):
 * - after every change it makes, the subscriptions service pushes the row (`publishSubscription`);
 * - an object that holds no copy yet is filled from Postgres (`loadSubscription`, by play and
 *   `GET /v1/me`);
 * - the cron copies every row whose `copied_at` is behind its `updated_at` (`syncSubscriptionCopies`):
 *   a push that failed, or a writer that pushes nothing, reaches the object within a minute.
 */

const versionOf = copyVersion(subscriptions.updatedAt);

const copyColumns = {
  userId: subscriptions.userId,
  planId: subscriptions.planId,
  status: subscriptions.status,
  currentPeriodEnd: subscriptions.currentPeriodEnd,
  cancelAt: subscriptions.cancelAt,
  maxHeight: plans.maxHeight,
  screens: plans.screens,
  version: versionOf,
};

type CopyRow = Awaited<ReturnType<typeof selectCopies>>[number];

function toCopy(row: CopyRow): VersionedSubscription {
  return {
    subscription: {
      planId: row.planId,
      status: row.status,
      currentPeriodEnd: row.currentPeriodEnd.getTime(),
      cancelAt: row.cancelAt?.getTime() ?? null,
      maxHeight: row.maxHeight,
      screens: row.screens,
    },
    version: Number(row.version),
  };
}

function selectCopies(db: Database) {
  return db.select(copyColumns).from(subscriptions).innerJoin(plans, eq(plans.id, subscriptions.planId));
}

/** The subscription as the user's object should hold it, from the primary; "none" (version 0) without one. */
export async function loadSubscription(services: Services, userId: string): Promise<VersionedSubscription> {
  const [row] = await selectCopies(services.db).where(eq(subscriptions.userId, userId));
  return row ? toCopy(row) : { subscription: null, version: 0 };
}

/**
 * For an object that holds no copy yet (an account from before the copies): the subscription from
 * Postgres, given to the object unless a copy reached it meanwhile. Answers the subscription.
 */
export async function fillSubscription(services: Services, userId: string): Promise<SubscriptionCopy | null> {
  const copy = await loadSubscription(services, userId);
  await services.viewerState(userId).putSubscription(copy, { onlyIfMissing: true });
  return copy.subscription;
}

/** Records that the object holds the row at `version`, unless it changed again since. */
async function markCopied(db: Database, userId: string, version: number): Promise<void> {
  await db
    .update(subscriptions)
    .set({ copiedAt: sql`${subscriptions.updatedAt}` })
    .where(and(eq(subscriptions.userId, userId), sql`${versionOf} = ${version}`));
}

/**
 * After a change: pushes the user's subscription to their object, which ends their streams when
 * the plan now plays less (a lower height, fewer screens). A push that fails is logged, not
 * thrown: the change is recorded, and the cron's sync delivers it within a minute.
 */
export async function publishSubscription(services: Services, userId: string): Promise<{ streamsEnded: number }> {
  const copy = await loadSubscription(services, userId);
  try {
    const { streamsEnded } = await services.viewerState(userId).putSubscription(copy);
    await markCopied(services.db, userId, copy.version);
    return { streamsEnded };
  } catch (error) {
    services.log.error("subscription change not copied to the user's object; the cron's sync retries it", { userId, error });
    return { streamsEnded: 0 };
  }
}

/**
 * The cron's half of keeping copies in step: every subscription whose copy is behind (oldest
 * change first) is pushed to its user's object and marked. Answers how many were copied.
 */
export async function syncSubscriptionCopies(services: Services): Promise<number> {
  const behind = await selectCopies(services.db)
    .where(copyBehind(subscriptions.copiedAt, subscriptions.updatedAt))
    .orderBy(asc(subscriptions.updatedAt))
    .limit(COPY_BATCH);
  return copyEach(services, "subscriptions", behind, async (row) => {
    await services.viewerState(row.userId).putSubscription(toCopy(row));
    await markCopied(services.db, row.userId, Number(row.version));
  });
}
