/**
 * The user's subscription as the user's `ViewerState` holds it, and the one rule that turns it
 * into what the user may play. The subscriptions service writes the copy (Postgres stays the
 * record); play reads it in the same Durable Object call as the screen lease, so play needs no
 * query (docs/subscriptions.md).
 */

export type SubscriptionStatus = "active" | "canceled";

/** A subscription and its plan's limits, as copied into the user's object. Times in ms since the epoch. */
export interface SubscriptionCopy {
  planId: string;
  status: SubscriptionStatus;
  currentPeriodEnd: number;
  /** When a canceled subscription stops (its period end); null while active. */
  cancelAt: number | null;
  /** Tallest rendition the plan plays. */
  maxHeight: number;
  /** Concurrent streams the plan allows. */
  screens: number;
}

/**
 * A copy and its version: `subscriptions.updated_at` in ms (0 for "no subscription"). The object
 * keeps the newest version it was given, so copies sent out of order cannot go back in time.
 */
export interface VersionedSubscription {
  subscription: SubscriptionCopy | null;
  version: number;
}

/** What a user may play right now. */
export interface Entitlement {
  planId: string;
  maxHeight: number;
  screens: number;
  status: SubscriptionStatus;
  /** A canceled subscription stops entitling at this instant (ms since the epoch). */
  currentPeriodEnd: number;
}

/**
 * The plan's limits while the subscription is active, or canceled but still inside its paid
 * period; null otherwise (play answers 402). `now` is the clock of whoever asks.
 */
export function entitlementAt(subscription: SubscriptionCopy | null, now: number): Entitlement | null {
  if (!subscription) return null;
  if (subscription.status !== "active" && subscription.currentPeriodEnd <= now) return null;
  const { planId, maxHeight, screens, status, currentPeriodEnd } = subscription;
  return { planId, maxHeight, screens, status, currentPeriodEnd };
}

/**
 * Whether going from `before` to `after` plays less: a lower height or fewer screens, or no plan
 * at all. The user's streams then end, so URLs signed for the old plan stop (issue 15.10); an
 * upgrade leaves playback alone (play again for more).
 */
export function playsLess(before: Entitlement | null, after: Entitlement | null): boolean {
  if (!before) return false;
  return !after || after.maxHeight < before.maxHeight || after.screens < before.screens;
}
