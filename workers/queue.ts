import type { HealthProbeMessage } from "./health/index.ts";
import { handleDeadTranscodeMessage, handleTranscodeMessage, TRANSCODE_DLQ, type TranscodeJobMessage } from "./uploads/index.ts";

/** Every message the Worker's queues carry. Later services add their kinds here. */
export type QueueMessage = HealthProbeMessage | TranscodeJobMessage;

/** The queue consumer: dispatches each message by `kind`; unknown kinds are logged and dropped. */
export async function handleQueueBatch(batch: MessageBatch<QueueMessage>, env: Env, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body as { kind?: unknown };
    switch (body?.kind) {
      case "health-probe":
        message.ack();
        break;
      case "transcode": {
        const job = message as Message<TranscodeJobMessage>;
        await (batch.queue === TRANSCODE_DLQ ? handleDeadTranscodeMessage(job, env, ctx) : handleTranscodeMessage(job, env, ctx));
        break;
      }
      default:
        console.error(
          JSON.stringify({ level: "error", msg: "dropping queue message of unknown kind", queue: batch.queue, id: message.id }),
        );
        message.ack();
    }
  }
}
