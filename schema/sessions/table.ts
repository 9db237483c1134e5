import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../users/table.ts";

/**
 * A signed-in device, as a copy for queries and the audit trail: the session itself and its
 * refresh tokens live in the user's `ViewerState` (refresh, sign-out and their checks need no
 * Postgres). Written when the session opens (sign-in and sign-up need Postgres anyway); its
 * revocation is written behind, best effort. Access tokens carry its id (`sid`).
 */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Absolute end of the session: rotation never extends it. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    /** `signout`, `signout-everywhere` or `refresh-reuse`: why the session ended early, for the audit trail. */
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
  },
  (table) => [index("sessions_user_id_idx").on(table.userId)],
);

export type Session = typeof sessions.$inferSelect;
