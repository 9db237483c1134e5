import { createServices, type Services } from "./platform/services.ts";
import {
  handleDeadTranscodeMessage,
  handleTranscodeMessage,
  handleUploadExpired,
  TRANSCODE_DLQ,
  type TranscodeJobMessage,
  type UploadExpiredMessage,
} from "./uploads/index.ts";

/** Every message the Worker's queues carry. Services add their kinds here. */
export type QueueMessage = TranscodeJobMessage | UploadExpiredMessage;

/**
 * The queue entry point: each message gets its own services (from the composition root) and goes
 * to the service that owns its `kind`. A handler that throws leaves the message for a retry;
 * unknown kinds are logged and dropped.
 */
export async function handleQueueBatch(batch: MessageBatch<QueueMessage>, env: Env, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    const services = await createServices(env, ctx, { logFields: { queue: batch.queue, messageId: message.id } });
    try {
      await dispatch(message, batch.queue, services);
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
    case "transcode": {
      const job = message as Message<TranscodeJobMessage>;
      await (queue === TRANSCODE_DLQ ? handleDeadTranscodeMessage(job, services) : handleTranscodeMessage(job, services));
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
