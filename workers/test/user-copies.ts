import { env, runDurableObjectAlarm } from "cloudflare:test";
import type { UserCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { users } from "../../schema/index.ts";
import { sentUserCopies } from "../../testing/user-copies.ts";
import { USER_COPIES_DLQ, USER_COPIES_QUEUE } from "../user-copies/index.ts";
import { withDatabase } from "./catalog.ts";
import { deliverQueueBatch } from "./helpers.ts";

/**
 * The write-behind as the Worker's tests drive it: an object's alarm sends its copies (captured by
 * the test Worker, testing/user-copies.ts; the queue's own deliveries are dropped in these tests),
 * and the test delivers them to the consumer by hand, as one batch, when it chooses.
 */

export function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

/** Runs the user's object's alarm; answers the messages it handed to the queue. */
export async function runFlush(userId: string): Promise<UserCopiesMessage[]> {
  const before = sentUserCopies.length;
  await runDurableObjectAlarm(viewerStateOf(userId));
  return sentUserCopies.slice(before).filter((message) => message.userId === userId);
}

/** Delivers messages to the user-copies consumer (or its dead-letter queue's) as one batch. */
export function deliverUserCopies(
  messages: UserCopiesMessage[],
  options: { deadLettered?: boolean; attempts?: number; env?: Partial<Env> } = {},
) {
  return deliverQueueBatch(messages, {
    queue: options.deadLettered ? USER_COPIES_DLQ : USER_COPIES_QUEUE,
    attempts: options.attempts,
    env: options.env,
  });
}

/** `count` users in Postgres alone (no password to hash): owners for copies the tests write. */
export async function insertUsers(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await withDatabase((db) =>
    db.insert(users).values(ids.map((id) => ({ id, email: `copies-${id}@example.com`, name: "Copies", passwordHash: "unused" }))),
  );
  return ids;
}

/** A heartbeat straight to the user's object (no session, no HTTP): what `PUT …/progress` stores. */
export function recordPosition(userId: string, videoId: string, positionSeconds: number, flushDelayMs = 60_000) {
  return viewerStateOf(userId).recordProgress({
    userId,
    sessionId: `session-of-${userId}`,
    videoId,
    positionSeconds,
    durationSeconds: 600,
    finished: false,
    leaseMs: 45_000,
    flushDelayMs,
    continueWatchingSize: 20,
  });
}
