import { and, asc, eq, sql } from "drizzle-orm";
import { plans, type Subscription, subscriptions } from "../../schema/index.ts";
import { readThrough } from "../platform/cache.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { hasSqlState, SqlState } from "../platform/sql-errors.ts";
import { planKeys } from "./cache-keys.ts";
import type { PublicPlan, PublicSubscription } from "./schema.ts";

/*
 * Payment is out of scope; this is where a payment provider plugs in. A signature-checked webhook
 * route (`POST /v1/billing/webhook`, raw body, provider's signing secret) maps the provider's
 * events onto the same row this module owns:
 * - checkout completed -> `subscribe()` (and `POST /v1/subscription` would start a checkout
 *   session instead of activating at once);
 * - invoice paid -> move `currentPeriodStart`/`currentPeriodEnd` to the paid period;
 * - payment failed for good, or canceled at the provider -> `cancelSubscription()`.
 * The provider's subscription id would be a new column with a unique index, so a replayed
 * webhook is an idempotent update. After each change, `publishSubscription` (entitlement.ts)
 * copies the row to the user's object, where play reads status and period.
 */

/** A billing period. Without a payment provider a period starts when the user subscribes. */
const BILLING_PERIOD = sql`interval '1 month'`;

const planColumns = {
  id: plans.id,
  name: plans.name,
  priceCents: plans.priceCents,
  currency: plans.currency,
  maxHeight: plans.maxHeight,
  screens: plans.screens,
};

export function listPlans(db: Database): Promise<PublicPlan[]> {
  return db.select(planColumns).from(plans).orderBy(asc(plans.position), asc(plans.id));
}

/** Plans change only with a migration, so they are read from the replica and cached in KV. */
export function listPlansCached(services: Services): Promise<PublicPlan[]> {
  return readThrough(services.cache, planKeys.plans(), () => listPlans(services.readDb));
}

export function toPublicSubscription(row: Pick<Subscription, "planId" | "status" | "currentPeriodEnd" | "cancelAt">): PublicSubscription {
  return {
    planId: row.planId,
    status: row.status,
    currentPeriodEnd: row.currentPeriodEnd.toISOString(),
    cancelAt: row.cancelAt?.toISOString() ?? null,
  };
}

/**
 * The user's subscription, or null. Read from the primary: it answers right after the user
 * subscribes or cancels (read-your-writes). This is the `subscriptionOf` reader of `GET /v1/me`.
 */
export async function getSubscription(db: Database, userId: string): Promise<PublicSubscription | null> {
  const [row] = await db.select().from(subscriptions).where(eq(subscriptions.userId, userId));
  return row ? toPublicSubscription(row) : null;
}

async function unknownPlan(db: Database, planId: string): Promise<ApiError> {
  const known = (await listPlans(db)).map((plan) => plan.id);
  return new ApiError("validation", `There is no plan '${planId}'. Choose one of: ${known.join(", ")}.`, {
    errors: [{ path: "planId", message: `Must be one of: ${known.join(", ")}.` }],
  });
}

/**
 * Subscribes, changes plan, or reactivates, in one statement. The unique index on `user_id` is
 * what makes it safe under concurrent requests: of two first subscribes, one inserts and the
 * other becomes the update, and nobody gets a 500 or a second row.
 * - no subscription, or a canceled one whose period is over: a new period starts (`created`);
 * - otherwise the plan changes (and a pending cancellation is withdrawn) within the current period.
 */
export async function subscribe(
  db: Database,
  userId: string,
  planId: string,
  now: Date,
): Promise<{ subscription: PublicSubscription; created: boolean }> {
  const lapsed = sql`(${subscriptions.status} = 'canceled' and ${subscriptions.currentPeriodEnd} <= ${now})`;
  // The row as this statement found it (none, for the loser of a race on the first subscribe).
  const previous = db.$with("previous").as(
    db
      .select({ lapsed: sql<boolean>`${lapsed}`.as("lapsed") })
      .from(subscriptions)
      .where(eq(subscriptions.userId, userId)),
  );
  try {
    const [row] = await db
      .with(previous)
      .insert(subscriptions)
      .values({
        id: crypto.randomUUID(),
        userId,
        planId,
        status: "active",
        currentPeriodStart: now,
        currentPeriodEnd: sql`${now}::timestamptz + ${BILLING_PERIOD}`,
        updatedAt: now,
      })
      .onConflictDoUpdate({
        target: subscriptions.userId,
        set: {
          planId: sql`excluded.plan_id`,
          status: "active",
          cancelAt: null,
          canceledAt: null,
          currentPeriodStart: sql`case when ${lapsed} then excluded.current_period_start else ${subscriptions.currentPeriodStart} end`,
          currentPeriodEnd: sql`case when ${lapsed} then excluded.current_period_end else ${subscriptions.currentPeriodEnd} end`,
          updatedAt: now,
        },
      })
      .returning({
        planId: subscriptions.planId,
        status: subscriptions.status,
        currentPeriodEnd: subscriptions.currentPeriodEnd,
        cancelAt: subscriptions.cancelAt,
        // xmax = 0: this statement inserted the row; otherwise it is new only if the old one had lapsed.
        created: sql<boolean>`(xmax = 0 or coalesce((select lapsed from previous), false))`,
      });
    if (!row) throw new Error("upsert returned no row");
    return { subscription: toPublicSubscription(row), created: row.created };
  } catch (error) {
    if (hasSqlState(error, SqlState.foreignKeyViolation)) throw await unknownPlan(db, planId);
    throw error;
  }
}

/**
 * Cancels at the end of the current period: the status becomes `canceled` at once, entitlement
 * stays until `currentPeriodEnd`. Canceling twice answers the same subscription again.
 */
export async function cancelSubscription(db: Database, userId: string, now: Date): Promise<PublicSubscription> {
  const [canceled] = await db
    .update(subscriptions)
    .set({ status: "canceled", cancelAt: subscriptions.currentPeriodEnd, canceledAt: now, updatedAt: now })
    .where(and(eq(subscriptions.userId, userId), eq(subscriptions.status, "active")))
    .returning();
  if (canceled) return toPublicSubscription(canceled);
  const existing = await getSubscription(db, userId);
  if (!existing) throw new ApiError("not-found", "You have no subscription to cancel. POST /v1/subscription with a planId subscribes.");
  return existing;
}
