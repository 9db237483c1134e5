import { sql } from "drizzle-orm";
import { check, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

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
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Sign-in looks users up by email; uniqueness is what makes "email taken" race-free.
    uniqueIndex("users_email_key").on(table.email),
    check("users_role_check", sql`${table.role} in ('viewer', 'admin')`),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
