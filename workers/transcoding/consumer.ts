import type { Services } from "../platform/services.ts";
import { dispatchTask } from "./dispatch.ts";
import { markDeadLettered, type TranscodeTaskMessage } from "./service.ts";

/**
 * The transcode queue's consumer: each message asks for one task to be handed to a transcoder.
 * Dispatch answers at once, so an invocation lasts a second or two, never an encode. When no
 * transcoder is free the task waits: the message is acknowledged and sent again with a delay,
 * so waiting spends none of the message's retries and nothing is dead-lettered for lack of
 * capacity. A handler that throws (the database is down) leaves the message for a retry.
 */
export async function handleTranscodeTaskMessage(message: Message<TranscodeTaskMessage>, services: Services): Promise<void> {
  const outcome = await dispatchTask(services, message.body);
  if (outcome.kind === "waiting") {
    await services.transcodeQueue.send(message.body, {
      contentType: "json",
      delaySeconds: services.config.TRANSCODE_CAPACITY_WAIT_SECONDS,
    });
  } else if (outcome.kind === "skipped") {
    services.log.info("transcode task message needs nothing", { jobId: message.body.jobId, taskId: message.body.taskId, why: outcome.why });
  }
  message.ack();
}

/**
 * A dispatch message that failed every retry (the database or the queue was down): the task keeps
 * its state and the cron sends it again (see `checkTranscodeLeases`); the row records that it was
 * dead-lettered, and why.
 */
export async function handleDeadTranscodeTaskMessage(message: Message<TranscodeTaskMessage>, services: Services): Promise<void> {
  const reason = `its dispatch message failed ${message.attempts} times and was dead-lettered`;
  await markDeadLettered(services.db, message.body, reason, new Date(services.clock.now()));
  services.log.error("transcode task message dead-lettered; the cron will send it again", { ...message.body, attempts: message.attempts });
  message.ack();
}
