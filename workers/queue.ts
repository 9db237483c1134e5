import type { UserCopiesMessage } from "../durable-objects/viewer-state/user-copies.ts";
import type { Clock } from "./platform/clock.ts";
import { isDeadLetterQueue } from "./platform/queue-names.ts";
import { BACKGROUND_DATABASE_TIMEOUT_MS, createServices, type Services } from "./platform/services.ts";
import { handleDeadTranscodeTaskMessage, handleTranscodeTaskMessage, type TranscodeTaskMessage } from "./transcoding/index.ts";
import { handleUploadExpired, type UploadExpiredMessage } from "./uploads/index.ts";
import { isUserCopiesQueue, requeueDeadUserCopies, writeUserCopies } from "./user-copies/index.ts";

/** Every message the Worker's queues carry. Services add their kinds here. */
export type QueueMessage = TranscodeTaskMessage | UploadExpiredMessage | UserCopiesMessage;

/**
 * Queues whose consumer takes the whole batch at once (one transaction for all its messages), with
 * one set of services for the invocation: one database connection per batch.
 */
function batchConsumerFor(queue: string): ((batch: MessageBatch<unknown>, services: Services) => Promise<void>) | undefined {
  if (!isUserCopiesQueue(queue)) return undefined;
  return isDeadLetterQueue(queue) ? requeueDeadUserCopies : writeUserCopies;
}

/**
 * The queue entry point: each message gets its own services (from the composition root) and goes
 * to the service that owns its `kind`. A handler that throws leaves the message for a retry;
 * unknown kinds are logged and dropped.
 *
 * A consumer invocation ends after 15 minutes of wall clock on Cloudflare; miniflare has no such
 * limit, so it is enforced here (`QUEUE_CONSUMER_WALL_CLOCK_SECONDS`, the real 900 by default,
 * lower in tests): a message still being handled then is given up and retried, as it would be.
 * `options.clock` is the time the handlers see (a test's; the system's by default); the wall
 * clock's deadline is a real timer either way.
 */
export async function handleQueueBatch(
  batch: MessageBatch<QueueMessage>,
  env: Env,
  ctx: ExecutionContext,
  options: { clock: Clock },
): Promise<void> {
  // Real elapsed time, as the platform counts it (and the timer below waits it).
  const started = Date.now();
  const withinWallClock = async (services: Services, work: Promise<void>) => {
    const wallClockMs = services.config.QUEUE_CONSUMER_WALL_CLOCK_SECONDS * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the consumer's wall clock (${wallClockMs / 1000} s) ran out`)),
        Math.max(0, wallClockMs - (Date.now() - started)),
      );
    });
    try {
      await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
  const wholeBatch = batchConsumerFor(batch.queue);
  if (wholeBatch) {
    const services = await createServices(env, ctx, {
      clock: options.clock,
      logFields: { queue: batch.queue, messages: batch.messages.length },
      databaseTimeoutMs: BACKGROUND_DATABASE_TIMEOUT_MS,
    });
    try {
      await withinWallClock(services, wholeBatch(batch as MessageBatch<unknown>, services));
    } catch (error) {
      // What the consumer did not settle is retried after wrangler.toml's `retry_delay`.
      services.log.error("queue batch failed; it will be retried", { error });
      batch.retryAll();
    } finally {
      ctx.waitUntil(services.close());
    }
    return;
  }
  for (const message of batch.messages) {
    const services = await createServices(env, ctx, { clock: options.clock, logFields: { queue: batch.queue, messageId: message.id } });
    try {
      await withinWallClock(services, dispatch(message, batch.queue, services));
    } catch (error) {
      services.log.error("queue message failed; it will be retried", { error, attempts: message.attempts });
      message.retry();
    } finally {
      ctx.waitUntil(services.close());
    }
  }
}

async function dispatch(message: Message<QueueMessage>, queue: string, services: Services): Promise<void> {
  const kind = (message.body as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case "transcode-task": {
      const task = message as Message<TranscodeTaskMessage>;
      await (isDeadLetterQueue(queue) ? handleDeadTranscodeTaskMessage(task, services) : handleTranscodeTaskMessage(task, services));
      return;
    }
    case "upload-expired":
      await handleUploadExpired(message as Message<UploadExpiredMessage>, services);
      return;
    default:
      services.log.error("dropping queue message of unknown kind", { kind: String(kind) });
      message.ack();
  }
}
