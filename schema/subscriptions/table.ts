import { sql } from "drizzle-orm";
import { check, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { plans } from "../plans/table.ts";
import { users } from "../users/table.ts";

export const subscriptionStatuses = ["active", "canceled"] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];

/**
 * A user's subscription: at most one row per user, reused when they change plan, cancel or
 * come back. A payment provider keeps the billing history; this row is the entitlement.
 */
export const subscriptions = pgTable(
  "subscriptions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    planId: text("plan_id")
      .notNull()
      .references(() => plans.id),
    /** `canceled` keeps its entitlement until `currentPeriodEnd`. */
    status: text("status", { enum: subscriptionStatuses }).notNull(),
    currentPeriodStart: timestamp("current_period_start", { withTimezone: true }).notNull(),
    currentPeriodEnd: timestamp("current_period_end", { withTimezone: true }).notNull(),
    /** When a canceled subscription stops (its period end); null while active. */
    cancelAt: timestamp("cancel_at", { withTimezone: true }),
    canceledAt: timestamp("canceled_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Bumped by every change; written from the clock in whole milliseconds (the copy's version). */
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /**
     * The `updated_at` whose copy the user's `ViewerState` holds (plan, limits, status, period):
     * differs from it until the change reached the object (a push that failed, a writer that
     * pushes nothing), and the cron copies it.
     */
    copiedAt: timestamp("copied_at", { withTimezone: true }),
  },
  (table) => [
    // "One subscription per user" lives here, not in code: two concurrent subscribes meet on this
    // index and the second becomes an update (INSERT … ON CONFLICT (user_id)).
    uniqueIndex("subscriptions_user_id_key").on(table.userId),
    // Changing or retiring a plan needs to find its subscribers.
    index("subscriptions_plan_id_idx").on(table.planId),
    // The cron's sync finds the subscriptions whose copy is behind; almost none are, so the index is tiny.
    index("subscriptions_copy_behind_idx").on(table.updatedAt).where(sql`${table.copiedAt} is distinct from ${table.updatedAt}`),
    check("subscriptions_status_check", sql`${table.status} in ('active', 'canceled')`),
    check("subscriptions_period_check", sql`${table.currentPeriodEnd} > ${table.currentPeriodStart}`),
  ],
);

export type Subscription = typeof subscriptions.$inferSelect;
