import { acknowledgementOf, type UserCopiesMessage, userCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import type { Services } from "../platform/services.ts";
import { refreshContinueWatchingCopy } from "../playback/index.ts";
import { writeMyListCopies, writeRatingCopies } from "./choice-copies.ts";
import { writeProgressCopies } from "./progress-copies.ts";

/** The queue and its dead-letter queue (wrangler.toml). */
export const USER_COPIES_QUEUE = "reelstream-user-copies";
export const USER_COPIES_DLQ = "reelstream-user-copies-dlq";

/**
 * Whether a batch comes from the user-copies queue or its dead-letter queue, in any environment
 * (each names its queues: `reelstream-production-user-copies`, …; platform/queue-names.ts).
 */
export function isUserCopiesQueue(queue: string): boolean {
  return /-user-copies(-dlq)?$/.test(queue);
}

/** A failed write is retried after 15 s, doubling up to 5 minutes (about 33 minutes over the queue's 10 retries). */
const RETRY_FIRST_SECONDS = 15;
const RETRY_MAX_SECONDS = 300;
/** A copy that used up its retries goes back to the queue after this long. */
export const DEAD_LETTER_REQUEUE_SECONDS = 300;

export function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** Math.max(0, attempts - 1));
}

/**
 * The user-copies queue's consumer: a whole batch (up to 100 users' messages) is written to
 * Postgres in ONE transaction on one connection, then each message is acknowledged to its user's
 * object (`copiesWritten`), which forgets the rows whose version was written. When the write fails
 * (Postgres down or timing out) nothing is half-written and every message is retried with a delay
 * that grows with its attempts; after the queue's last retry it goes to the dead-letter queue,
 * whose consumer sends it back (`requeueDeadUserCopies`). An acknowledgement that fails (the
 * object unreachable) retries its message alone: writing it again changes nothing.
 *
 * A message that does not parse is logged and dropped: its rows are still dirty in the object,
 * which sends them again in the current shape.
 */
export async function writeUserCopies(batch: MessageBatch<unknown>, services: Services): Promise<void> {
  const parsed: { message: Message<unknown>; body: UserCopiesMessage }[] = [];
  for (const message of batch.messages) {
    const body = userCopiesMessage.safeParse(message.body);
    if (body.success) parsed.push({ message, body: body.data });
    else {
      services.log.error("dropping a user-copies message that does not parse; its object sends the rows again", {
        messageId: message.id,
        issues: body.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "),
      });
      message.ack();
    }
  }
  if (parsed.length === 0) return;
  const started = Date.now();
  let written: number;
  try {
    const bodies = parsed.map(({ body }) => body);
    written = await services.db.transaction(
      async (tx) => (await writeProgressCopies(tx, bodies)) + (await writeMyListCopies(tx, bodies)) + (await writeRatingCopies(tx, bodies)),
    );
  } catch (error) {
    for (const { message } of parsed) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    services.log.warn("user copies not written; the batch will be retried", {
      error,
      messages: parsed.length,
      attempts: Math.max(...parsed.map(({ message }) => message.attempts)),
      retryInSeconds: retryDelaySeconds(Math.min(...parsed.map(({ message }) => message.attempts))),
    });
    await refreshContinueWatchingCopies(
      services,
      parsed.map(({ body }) => body),
    );
    return;
  }
  const acknowledged = await Promise.allSettled(
    parsed.map(({ body }) => services.viewerState(body.userId).copiesWritten(acknowledgementOf(body))),
  );
  acknowledged.forEach((outcome, i) => {
    const entry = parsed[i];
    if (!entry) return;
    if (outcome.status === "fulfilled") entry.message.ack();
    else {
      services.log.warn("user copies written but not acknowledged to the object; retrying the message", {
        userId: entry.body.userId,
        error: outcome.reason,
      });
      entry.message.retry({ delaySeconds: RETRY_FIRST_SECONDS });
    }
  });
  await refreshContinueWatchingCopies(
    services,
    parsed.map(({ body }) => body),
  );
  const oldest = Math.min(...parsed.map(({ body }) => body.sentAt));
  services.log.info("user copies written", {
    messages: parsed.length,
    rowsWritten: written,
    writeMs: Date.now() - started,
    oldestWaitedMs: services.clock.now() - oldest,
  });
}

/**
 * The viewers' continue-watching copies in KV, from the rows their objects sent (the newest message
 * of each user): heartbeats write that copy at most every few seconds, and the flush catches up on
 * what they left. It needs no Postgres, so it runs whether or not the batch was written; a copy that
 * fails is logged and written by the next flush or heartbeat.
 */
async function refreshContinueWatchingCopies(services: Services, messages: UserCopiesMessage[]): Promise<void> {
  const newest = new Map<string, UserCopiesMessage>();
  for (const message of messages) {
    const known = newest.get(message.userId);
    if (message.continueWatching && (!known || known.sentAt <= message.sentAt)) newest.set(message.userId, message);
  }
  const refreshed = await Promise.allSettled(
    [...newest.values()].map((message) => refreshContinueWatchingCopy(services, message.userId, message.continueWatching ?? [])),
  );
  const failed = refreshed.filter((outcome) => outcome.status === "rejected");
  if (failed.length > 0) {
    services.log.warn("continue-watching copies not refreshed at the flush", { users: failed.length, error: failed[0]?.reason });
  }
}

/**
 * The dead-letter queue's consumer: messages whose retries ran out (Postgres down for over half an
 * hour) go back to the user-copies queue after `DEAD_LETTER_REQUEUE_SECONDS`, with their attempts
 * starting again. Never dropped: when the queue refuses them, they are retried here.
 */
export async function requeueDeadUserCopies(batch: MessageBatch<unknown>, services: Services): Promise<void> {
  for (const part of sendBatchParts(batch.messages.map((message) => message.body))) {
    await services.userCopiesQueue.sendBatch(
      part.map((body) => ({ body, contentType: "json" as const, delaySeconds: DEAD_LETTER_REQUEUE_SECONDS })),
    );
  }
  services.log.warn("user copies back from the dead-letter queue; sent again with a delay", {
    messages: batch.messages.length,
    delaySeconds: DEAD_LETTER_REQUEUE_SECONDS,
  });
  batch.ackAll();
}

/** `sendBatch` takes at most 100 messages and 256 KB: bodies grouped to stay under both (with room for metadata). */
const SEND_BATCH_MAX_BYTES = 200_000;
function sendBatchParts(bodies: unknown[]): unknown[][] {
  const parts: unknown[][] = [];
  let part: unknown[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = JSON.stringify(body).length + 200;
    if (part.length > 0 && (part.length === 100 || bytes + size > SEND_BATCH_MAX_BYTES)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(body);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
