import { sql } from "drizzle-orm";
import { check, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * What a subscription buys. Rows are data, seeded by the `seed_plans` migration, so prices and
 * limits change with a migration (or an admin tool later) and never with a deploy of code.
 */
export const plans = pgTable(
  "plans",
  {
    /** Stable, human-readable id (`basic`, `standard`, `premium`): clients send it in `{ planId }`. */
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    priceCents: integer("price_cents").notNull(),
    /** ISO 4217, upper case. */
    currency: text("currency").notNull(),
    /** Tallest rendition a viewer on this plan may receive (playback filters the master playlist). */
    maxHeight: integer("max_height").notNull(),
    /** Concurrent streams (one lease per signed-in session). */
    screens: integer("screens").notNull(),
    /** Order in which `GET /v1/plans` lists them (cheapest first). */
    position: integer("position").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check("plans_price_check", sql`${table.priceCents} >= 0`),
    check("plans_currency_check", sql`${table.currency} ~ '^[A-Z]{3}$'`),
    check("plans_limits_check", sql`${table.maxHeight} > 0 and ${table.screens} > 0`),
  ],
);

export type Plan = typeof plans.$inferSelect;
