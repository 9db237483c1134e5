import type { Config } from "../platform/config.ts";
import type { Services } from "../platform/services.ts";
import { dispatchTask } from "./dispatch.ts";
import { markDeadLettered, type TranscodeTaskMessage } from "./service.ts";

/**
 * The transcode queue's consumer: each message asks for one task to be handed to a transcoder.
 * Dispatch answers at once, so an invocation lasts a second or two, never an encode. When no
 * transcoder is free the task waits: the message is acknowledged and sent again with a delay that
 * doubles with each wait (`capacityWaitSeconds`), so waiting spends none of the message's retries,
 * nothing is dead-lettered for lack of capacity, and a long queue of waiting tasks does not ask
 * the database every few seconds: a freed instance takes the longest-waiting task at once, and
 * these re-sends are the safety net. A handler that throws (the database is down) leaves the
 * message for a retry.
 */
export async function handleTranscodeTaskMessage(message: Message<TranscodeTaskMessage>, services: Services): Promise<void> {
  const outcome = await dispatchTask(services, message.body);
  if (outcome.kind === "waiting") {
    const waits = message.body.waits ?? 0;
    const again: TranscodeTaskMessage = { ...message.body, waits: waits + 1 };
    await services.transcodeQueue.send(again, { contentType: "json", delaySeconds: capacityWaitSeconds(services.config, waits) });
  } else if (outcome.kind === "skipped") {
    services.log.info("transcode task message needs nothing", { jobId: message.body.jobId, taskId: message.body.taskId, why: outcome.why });
  }
  message.ack();
}

/**
 * The delay before a task that found no free transcoder `waits` times before looks again: the
 * first wait, doubled each time, at most the longest.
 *
 * @example capacityWaitSeconds({ TRANSCODE_CAPACITY_WAIT_SECONDS: 10, TRANSCODE_CAPACITY_WAIT_MAX_SECONDS: 300 }, 3) // 80
 */
export function capacityWaitSeconds(
  config: Pick<Config, "TRANSCODE_CAPACITY_WAIT_SECONDS" | "TRANSCODE_CAPACITY_WAIT_MAX_SECONDS">,
  waits: number,
): number {
  const first = config.TRANSCODE_CAPACITY_WAIT_SECONDS;
  const longest = Math.max(first, config.TRANSCODE_CAPACITY_WAIT_MAX_SECONDS);
  return Math.min(longest, first * 2 ** Math.min(Math.max(0, waits), 20));
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
