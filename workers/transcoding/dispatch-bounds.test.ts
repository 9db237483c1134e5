import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../platform/clock.ts";
import { signUpAdmin } from "../test/catalog.ts";
import { deliver, dispatched, freeTheDouble, message, setDoubleBusy, taskRow, transcodingEnv } from "../test/transcoding.ts";
import { videoWithQueuedJob } from "../test/uploads.ts";
import type { TranscodeTaskMessage } from "./service.ts";

// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

/**
 * What bounds a dispatch: a task that finds every transcoder busy waits longer each time it looks
 * (delayed re-sends, no retry spent), and one dispatch gives up trying instances at its deadline,
 * by the consumer's clock.
 */

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

beforeEach(async () => {
  await freeTheDouble();
  // Instance 0 says it is busy (429) to every dispatch; instance 1 only where a test says so.
  await setDoubleBusy(0, true);
  return async () => {
    await setDoubleBusy(0, false);
    await setDoubleBusy(1, false);
  };
});

const uploaded = () => videoWithQueuedJob(admin, "Dispatch bounds");

/** The real queue, with each message it is given noted on the way (what was sent, and its delay). */
function notingQueue(): { env: Env; sent: { body: TranscodeTaskMessage; delaySeconds?: number }[] } {
  const sent: { body: TranscodeTaskMessage; delaySeconds?: number }[] = [];
  const queue = env.TRANSCODE_QUEUE;
  const noting = {
    send(body: TranscodeTaskMessage, options?: QueueSendOptions) {
      sent.push({ body, delaySeconds: options?.delaySeconds });
      return queue.send(body, options);
    },
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => queue.sendBatch(messages, options),
  } as Queue;
  const waits = transcodingEnv({ TRANSCODE_CAPACITY_WAIT_SECONDS: "10", TRANSCODE_CAPACITY_WAIT_MAX_SECONDS: "60" });
  return { env: { ...waits, TRANSCODE_QUEUE: noting }, sent };
}

describe("a task that waits for a transcoder", () => {
  it("looks again after a delay that doubles with each wait, up to the longest, spending no retry", async () => {
    await setDoubleBusy(1, true);
    const { videoId, jobId } = await uploaded();
    const queue = notingQueue();
    let next: TranscodeTaskMessage = message(jobId, videoId, "plan");
    for (let wait = 0; wait < 5; wait++) {
      const result = await deliver(next, { env: queue.env, attempts: 1 });
      expect(result.explicitAcks).toHaveLength(1);
      expect(result.retryMessages).toEqual([]);
      next = queue.sent.at(-1)?.body as TranscodeTaskMessage;
    }
    expect(queue.sent.map(({ delaySeconds }) => delaySeconds)).toEqual([10, 20, 40, 60, 60]);
    expect(queue.sent.map(({ body }) => body.waits)).toEqual([1, 2, 3, 4, 5]);
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "waiting", failures: 0 });
  });
});

describe("one dispatch", () => {
  /** A clock that moves 70 s each time it is read: every instance tried costs a long while. */
  function slowClock(): Clock {
    let now = Date.now();
    return { now: () => (now += 70_000) };
  }

  it("stops trying instances at its deadline, by the consumer's clock, and the task waits", async () => {
    const { videoId, jobId } = await uploaded();
    const result = await deliver(message(jobId, videoId, "plan"), { clock: slowClock() });
    // Instance 0 said no 70 s in; instance 1, free, would be asked 140 s in, past the 120 s deadline.
    expect(await dispatched(jobId)).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "waiting", failures: 0 });
  });

  it("tries every free instance while time is left", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    expect((await dispatched(jobId)).map((task) => task.instance)).toEqual([1]);
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "running" });
  });
});
