import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../users/table.ts";

/** A signed-in device. Access tokens carry its id (`sid`); refresh tokens belong to it. */
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
    /** `signout` or `refresh-reuse`: why the session ended early, for the audit trail. */
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
  },
  (table) => [index("sessions_user_id_idx").on(table.userId)],
);

/**
 * Every refresh token ever issued, by SHA-256 of its value (the value itself is never stored).
 * Keeping spent tokens is what lets a replayed one be recognised and its whole session revoked.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    spentAt: timestamp("spent_at", { withTimezone: true }),
  },
  (table) => [index("refresh_tokens_session_id_idx").on(table.sessionId)],
);

export type Session = typeof sessions.$inferSelect;
