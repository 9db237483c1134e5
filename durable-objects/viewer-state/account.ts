import { type Entitlement, entitlementAt, type SubscriptionCopy, type VersionedSubscription } from "../../workers/platform/entitlement.ts";

/** The account as the user's object holds it: what `GET /v1/me` shows and a refreshed access token claims. */
export interface AccountCopy {
  id: string;
  email: string;
  name: string;
  role: "viewer" | "admin";
}

/** The user's entitlement as the object holds it, for a session (`ViewerState.readEntitlement`). */
export type EntitlementAnswer =
  | { revoked: true }
  | { revoked: false; copied: false }
  | { revoked: false; copied: true; entitlement: Entitlement | null };

/** A copy and its version (`users.updated_at` in ms): the object keeps the newest it was given. */
export interface VersionedAccount {
  account: AccountCopy;
  version: number;
}

/**
 * Copies of what Postgres records about the user and the object needs without asking it: the
 * account (id, email, name, role) and the subscription with its plan's limits. Each is one row
 * (`slot = 1`) with the version it was copied at; a write with an older version is ignored, so
 * copies that cross on the way (a sign-in and a role change, a cron sync and a plan change) end
 * on the newest. No row means "not copied yet": the caller fills it from Postgres.
 */
export class AccountCopies {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS account (slot INTEGER PRIMARY KEY CHECK (slot = 1),
      user_id TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, version INTEGER NOT NULL)`);
    // plan_id NULL: the user has no subscription (known), unlike no row (not copied yet).
    this.sql.exec(`CREATE TABLE IF NOT EXISTS subscription (slot INTEGER PRIMARY KEY CHECK (slot = 1),
      plan_id TEXT, status TEXT, current_period_end INTEGER, cancel_at INTEGER, max_height INTEGER, screens INTEGER,
      version INTEGER NOT NULL)`);
  }

  account(): AccountCopy | null {
    const row = this.sql
      .exec<{ user_id: string; email: string; name: string; role: string }>("SELECT user_id, email, name, role FROM account")
      .toArray()[0];
    return row ? { id: row.user_id, email: row.email, name: row.name, role: row.role === "admin" ? "admin" : "viewer" } : null;
  }

  /** Keeps `copy` unless a newer version is held; answers whether it was kept. */
  putAccount({ account, version }: VersionedAccount): boolean {
    return this.wrote(
      `INSERT INTO account (slot, user_id, email, name, role, version) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET user_id = excluded.user_id, email = excluded.email, name = excluded.name,
         role = excluded.role, version = excluded.version
       WHERE excluded.version >= account.version`,
      account.id,
      account.email,
      account.name,
      account.role,
      version,
    );
  }

  /** The subscription copy; `undefined` when none was copied yet (null: the user has none). */
  subscription(): SubscriptionCopy | null | undefined {
    const row = this.sql
      .exec<{
        plan_id: string | null;
        status: string | null;
        current_period_end: number | null;
        cancel_at: number | null;
        max_height: number | null;
        screens: number | null;
      }>("SELECT plan_id, status, current_period_end, cancel_at, max_height, screens FROM subscription")
      .toArray()[0];
    if (!row) return undefined;
    if (row.plan_id === null) return null;
    return {
      planId: row.plan_id,
      status: row.status === "active" ? "active" : "canceled",
      currentPeriodEnd: row.current_period_end ?? 0,
      cancelAt: row.cancel_at,
      maxHeight: row.max_height ?? 0,
      screens: row.screens ?? 0,
    };
  }

  /** What the held subscription entitles to at `now`; `undefined` when none was copied yet. */
  entitlement(now: number): Entitlement | null | undefined {
    const subscription = this.subscription();
    return subscription === undefined ? undefined : entitlementAt(subscription, now);
  }

  /**
   * Keeps `copy` unless a newer version is held (or, with `onlyIfMissing`, unless any copy is
   * held: a lazy fill never overwrites what the subscriptions service sent meanwhile). Answers
   * whether it was kept.
   */
  putSubscription({ subscription: copy, version }: VersionedSubscription, options: { onlyIfMissing?: boolean } = {}): boolean {
    const guard = options.onlyIfMissing ? "WHERE 0" : "WHERE excluded.version >= subscription.version";
    return this.wrote(
      `INSERT INTO subscription (slot, plan_id, status, current_period_end, cancel_at, max_height, screens, version)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET plan_id = excluded.plan_id, status = excluded.status,
         current_period_end = excluded.current_period_end, cancel_at = excluded.cancel_at,
         max_height = excluded.max_height, screens = excluded.screens, version = excluded.version
       ${guard}`,
      copy?.planId ?? null,
      copy?.status ?? null,
      copy?.currentPeriodEnd ?? null,
      copy?.cancelAt ?? null,
      copy?.maxHeight ?? null,
      copy?.screens ?? null,
      version,
    );
  }

  /** Runs a write; answers whether it wrote a row (an upsert whose guard held wrote none). */
  private wrote(query: string, ...bindings: SqlStorageValue[]): boolean {
    const cursor = this.sql.exec(query, ...bindings);
    cursor.toArray();
    return cursor.rowsWritten > 0;
  }
}
