import { sql } from "drizzle-orm";
import { check, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const userRoles = ["viewer", "admin"] as const;
export type UserRole = (typeof userRoles)[number];

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** Normalised (NFC, trimmed, lower-cased) before it is stored or looked up. */
    email: text("email").notNull(),
    name: text("name").notNull(),
    /** PHC string: the algorithm and its parameters travel with every hash, so they can be raised later. */
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: userRoles }).notNull().default("viewer"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Bumped by every change; written from the clock in whole milliseconds (the copy's version). */
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /**
     * The `updated_at` whose account the user's `ViewerState` holds (id, email, name, role): a
     * change made where no push follows (`npm run admin`) differs from it until the cron copies it.
     */
    copiedAt: timestamp("copied_at", { withTimezone: true }),
  },
  (table) => [
    // Sign-in looks users up by email; uniqueness is what makes "email taken" race-free.
    uniqueIndex("users_email_key").on(table.email),
    // The cron's sync finds the accounts whose copy is behind; almost none are, so the index is tiny.
    index("users_copy_behind_idx").on(table.updatedAt).where(sql`${table.copiedAt} is distinct from ${table.updatedAt}`),
    check("users_role_check", sql`${table.role} in ('viewer', 'admin')`),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
