import { env } from "cloudflare:workers";
import { and, eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { UserCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import { myList, videoRatings, watchProgress } from "../../schema/index.ts";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { insertReadyVideos, withDatabase } from "../test/catalog.ts";
import { deliverUserCopies, insertUsers, recordPosition, runFlush, viewerStateOf } from "../test/user-copies.ts";

async function storedPositions(userIds: string[]) {
  return withDatabase((db) =>
    db
      .select({
        userId: watchProgress.userId,
        videoId: watchProgress.videoId,
        positionSeconds: watchProgress.positionSeconds,
        // The transaction that wrote the row's current version.
        writtenBy: sql<string>`xmin::text`,
      })
      .from(watchProgress)
      .where(inArray(watchProgress.userId, userIds)),
  );
}

async function oneFlush(userId: string): Promise<UserCopiesMessage> {
  const sent = await runFlush(userId);
  expect(sent).toHaveLength(1);
  return sent[0] as UserCopiesMessage;
}

describe("the user-copies consumer", () => {
  it("writes a batch of 100 users' messages in one transaction, then acknowledges each user's rows to their object", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const userIds = await insertUsers(100);
    const messages: UserCopiesMessage[] = [];
    for (const [i, userId] of userIds.entries()) {
      await recordPosition(userId, video?.id ?? "", 10 + i);
      messages.push(await oneFlush(userId));
    }
    const result = await deliverUserCopies(messages);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(100);
    const rows = await storedPositions(userIds);
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((row) => row.writtenBy)).size).toBe(1);
    expect(rows.find((row) => row.userId === userIds[42])?.positionSeconds).toBe(52);
    for (const userId of userIds) expect((await viewerStateOf(userId).flushStats()).dirtyRows).toBe(0);
  });

  it("retries every message with a growing delay when Postgres cannot be reached, writes nothing and forgets nothing", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, video?.id ?? "", 33);
    const message = await oneFlush(userId);
    const broken = { DATABASE_URL: UNREACHABLE_DATABASE_URL };
    const first = await deliverUserCopies([message], { env: broken, attempts: 1 });
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages.map((retry) => retry.delaySeconds)).toEqual([15]);
    const later = await deliverUserCopies([message], { env: broken, attempts: 4 });
    expect(later.retryMessages.map((retry) => retry.delaySeconds)).toEqual([120]);
    const last = await deliverUserCopies([message], { env: broken, attempts: 10 });
    expect(last.retryMessages.map((retry) => retry.delaySeconds)).toEqual([300]);
    expect(await storedPositions([userId])).toEqual([]);
    expect(await viewerStateOf(userId).flushStats()).toMatchObject({ dirtyRows: 1 });
    // Postgres is back: the retry writes it.
    const retried = await deliverUserCopies([message], { attempts: 5 });
    expect(retried.explicitAcks).toHaveLength(1);
    expect((await storedPositions([userId]))[0]?.positionSeconds).toBe(33);
    expect(await viewerStateOf(userId).flushStats()).toMatchObject({ dirtyRows: 0, rowsAcknowledged: 1, inFlightSince: null });
  });

  it("sends dead-lettered messages back to the queue with a delay, and drops none", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, video?.id ?? "", 5);
    const message = await oneFlush(userId);
    const sent: unknown[] = [];
    // The real queue binding, with each batch it is given written down.
    const queue = new Proxy(env.USER_COPIES_QUEUE, {
      get: (target, property) => {
        const value = Reflect.get(target, property);
        if (property !== "sendBatch" || typeof value !== "function") return value;
        return (batch: unknown[], options?: unknown) => {
          sent.push(...batch);
          return Reflect.apply(value, target, [batch, options]);
        };
      },
    });
    const result = await deliverUserCopies([message, message], { deadLettered: true, env: { USER_COPIES_QUEUE: queue } });
    expect(result.ackAll).toBe(true);
    expect(sent).toEqual([
      { body: message, contentType: "json", delaySeconds: 300 },
      { body: message, contentType: "json", delaySeconds: 300 },
    ]);
    // Nothing written meanwhile, and the object still holds the row.
    expect(await storedPositions([userId])).toEqual([]);
    expect((await viewerStateOf(userId).flushStats()).dirtyRows).toBe(1);
  });

  it("keeps dirty a row that changed after it was sent, and forgets it once its new version is written", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const videoId = video?.id ?? "";
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, videoId, 10);
    const first = await oneFlush(userId);
    await recordPosition(userId, videoId, 20);
    await deliverUserCopies([first]);
    expect((await storedPositions([userId]))[0]?.positionSeconds).toBe(10);
    expect(await viewerStateOf(userId).flushStats()).toMatchObject({ dirtyRows: 1, inFlightSince: null });
    const second = await oneFlush(userId);
    expect(second.progress?.map((row) => row.positionSeconds)).toEqual([20]);
    await deliverUserCopies([second]);
    expect((await storedPositions([userId]))[0]?.positionSeconds).toBe(20);
    expect((await viewerStateOf(userId).flushStats()).dirtyRows).toBe(0);
  });

  it("writes nothing twice: a message delivered again, or an older one delivered late, changes no row", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const videoId = video?.id ?? "";
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, videoId, 10);
    const older = await oneFlush(userId);
    await deliverUserCopies([older]);
    await recordPosition(userId, videoId, 20);
    const newer = await oneFlush(userId);
    await deliverUserCopies([newer]);
    const [written] = await storedPositions([userId]);
    expect(written?.positionSeconds).toBe(20);
    // Both again, in one batch and in the wrong order: the row's version stays the one written.
    const again = await deliverUserCopies([newer, older]);
    expect(again.explicitAcks).toHaveLength(2);
    expect(await storedPositions([userId])).toEqual([written]);
  });

  it("skips the rows of titles deleted since, and writes the rest of the batch", async () => {
    const [kept, deleted] = await insertReadyVideos(2, { genres: [] });
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, kept?.id ?? "", 7);
    await recordPosition(userId, deleted?.id ?? "", 8);
    const message = await oneFlush(userId);
    await withDatabase((db) => db.execute(sql`delete from videos where id = ${deleted?.id ?? ""}`));
    expect((await deliverUserCopies([message])).explicitAcks).toHaveLength(1);
    const rows = await withDatabase((db) =>
      db
        .select()
        .from(watchProgress)
        .where(and(eq(watchProgress.userId, userId))),
    );
    expect(rows.map((row) => row.videoId)).toEqual([kept?.id]);
    expect((await viewerStateOf(userId).flushStats()).dirtyRows).toBe(0);
  });

  it("drops a message that does not parse (its object sends the rows again) and writes the rest", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const [userId = ""] = await insertUsers(1);
    await recordPosition(userId, video?.id ?? "", 3);
    const good = await oneFlush(userId);
    const bad = { ...good, userId: "", progress: [{ videoId: video?.id, positionSeconds: -1 }] } as unknown as UserCopiesMessage;
    const result = await deliverUserCopies([bad, good]);
    expect(result.explicitAcks).toHaveLength(2);
    expect((await storedPositions([userId]))[0]?.positionSeconds).toBe(3);
  });

  it("writes My List and thumbs with their versions: a message delivered again or late changes no row, and a removal deletes", async () => {
    const [video] = await insertReadyVideos(1, { genres: [] });
    const videoId = video?.id ?? "";
    const [userId = ""] = await insertUsers(1);
    const choice = { userId, sessionId: `session-of-${userId}`, profileId: userId, videoId, flushDelayMs: 60_000 };
    const stub = viewerStateOf(userId);
    await stub.addToMyList({ ...choice, max: 100 });
    await stub.rateTitle({ ...choice, rating: 1 });
    const older = await oneFlush(userId);
    expect(older).toMatchObject({ myList: [{ videoId, listed: true }], ratings: [{ videoId, rating: 1 }] });
    await deliverUserCopies([older]);
    await stub.removeFromMyList(choice);
    await stub.rateTitle({ ...choice, rating: -1 });
    const newer = await oneFlush(userId);
    await deliverUserCopies([newer]);
    const stored = () =>
      withDatabase(async (db) => ({
        listed: await db.select({ videoId: myList.videoId }).from(myList).where(eq(myList.userId, userId)),
        ratings: await db
          .select({ rating: videoRatings.rating, writtenBy: sql<string>`xmin::text` })
          .from(videoRatings)
          .where(eq(videoRatings.userId, userId)),
      }));
    const written = await stored();
    expect(written.listed).toEqual([]);
    expect(written.ratings.map((row) => row.rating)).toEqual([-1]);
    // The newer again: nothing changes (the same transaction wrote the thumb).
    await deliverUserCopies([newer]);
    expect(await stored()).toEqual(written);
    expect(await viewerStateOf(userId).flushStats()).toMatchObject({ dirtyRows: 0 });
  });
});
