import { createExecutionContext, env, evictDurableObject, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { RESEND_AFTER_MS } from "../../durable-objects/viewer-state/write-behind.ts";
import { watchProgress } from "../../schema/index.ts";
import { countingEnv, noCalls } from "../../testing/binding-calls.ts";
import worker from "../../testing/worker/index.ts";
import { KV_SAME_KEY_WRITE_INTERVAL_MS } from "../platform/kv-limits.ts";
import { brokenKv, problemOf, withDatabase } from "../test/catalog.ts";
import { advanceClock, call, clockNow, inOneRateWindow, type SignedIn } from "../test/helpers.ts";
import { anotherSession, play, readyVideo, subscribedViewer } from "../test/playback.ts";
import { deliverUserCopies, runFlush, viewerStateOf } from "../test/user-copies.ts";
import { HEARTBEAT_COPY_INTERVAL_MS } from "./continue-watching.ts";

function putProgress(viewer: SignedIn, videoId: string, json: unknown) {
  return call(`/v1/videos/${videoId}/progress`, { method: "PUT", token: viewer.accessToken, json });
}

function storedRows(userId: string) {
  return withDatabase((db) => db.select().from(watchProgress).where(eq(watchProgress.userId, userId)));
}

describe("PUT and GET /v1/videos/{id}/progress", () => {
  it("records where the viewer is; GET reads it back and play resumes there", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken })).status).toBe(404);
    const put = await putProgress(viewer, video.id, { positionSeconds: 125.5, durationSeconds: 600 });
    expect(put.status).toBe(204);
    const get = await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken });
    expect(get.status).toBe(200);
    const body = (await get.json()) as { positionSeconds: number; updatedAt: string; finished: boolean };
    expect(body).toMatchObject({ positionSeconds: 125.5, finished: false });
    expect(Math.abs(Date.parse(body.updatedAt) - clockNow())).toBeLessThan(10_000);
    expect((await play(viewer, video.id)).resumeAt).toBe(125.5);
  });

  it("counts a position near the end as finished: play starts again at 0", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await putProgress(viewer, video.id, { positionSeconds: 590 })).status).toBe(204);
    const body = (await (await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken })).json()) as { finished: boolean };
    expect(body.finished).toBe(true);
    expect((await play(viewer, video.id)).resumeAt).toBe(0);
  });

  it.each([
    [{ positionSeconds: -1 }, /cannot be negative/],
    [{ positionSeconds: "12" }, /must be a number/],
    [{}, /must be a number/],
    [{ positionSeconds: 10, durationSeconds: 0 }, /greater than 0/],
    [{ positionSeconds: 10, durationSeconds: 5 }, /beyond durationSeconds/],
    [{ positionSeconds: 10, extra: true }, /./],
  ])("refuses %j with 400 and a clear message", async (json, message) => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    const response = await putProgress(viewer, video.id, json);
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.errors?.map((error) => error.message).join(" ")).toMatch(message);
  });

  it("refuses non-finite numbers (1e999 parses as Infinity) and positions beyond the catalog's duration", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    const infinite = await call(`/v1/videos/${video.id}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      headers: { "Content-Type": "application/json" },
      body: '{"positionSeconds":1e999}',
    });
    expect(infinite.status).toBe(400);
    expect((await problemOf(infinite)).errors?.[0]?.message).toMatch(/finite/);
    const beyond = await putProgress(viewer, video.id, { positionSeconds: 900, durationSeconds: 1000 });
    expect(beyond.status).toBe(400);
    expect((await problemOf(beyond)).detail).toMatch(/beyond the end of the video \(600 s\)/);
  });

  it("answers 404 for an unknown video and 401 without a token", async () => {
    const viewer = await subscribedViewer();
    const unknown = await putProgress(viewer, "zzzzzzzzzzzzzzzzzzzz", { positionSeconds: 1 });
    expect(unknown.status).toBe(404);
    expect((await problemOf(unknown)).detail).toMatch(/no video/);
    expect((await call("/v1/videos/zzzzzzzzzzzzzzzzzzzz/progress", { method: "PUT", json: { positionSeconds: 1 } })).status).toBe(401);
  });
});

interface Home {
  rows: { id: string; items: { id: string }[] }[];
}

async function continueWatchingRow(viewer: SignedIn, init: { env?: Partial<Env> } = {}): Promise<string[] | undefined> {
  const response = await call("/v1/home", { token: viewer.accessToken, ...init });
  expect(response.status).toBe(200);
  const { rows } = (await response.json()) as Home;
  return rows.find((row) => row.id === "continue-watching")?.items.map((item) => item.id);
}

describe("continue watching, from the viewer's object", () => {
  it("shows a position recorded a moment ago on the very next /v1/home, and a finished title leaves the row at once", async () => {
    const viewer = await subscribedViewer();
    const [older, newer] = [await readyVideo(600), await readyVideo(600)];
    expect(await continueWatchingRow(viewer)).toBeUndefined();
    expect((await putProgress(viewer, older.id, { positionSeconds: 60 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([older.id]);
    // A heartbeat rewrites the KV copy at most every HEARTBEAT_COPY_INTERVAL_MS (see the alternation test below).
    advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
    expect((await putProgress(viewer, newer.id, { positionSeconds: 30 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([newer.id, older.id]);
    // Back to the first title: it moves to the front.
    advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
    expect((await putProgress(viewer, older.id, { positionSeconds: 65 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([older.id, newer.id]);
    // The credits of the first: it leaves the row. No flush to Postgres has run.
    advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
    expect((await putProgress(viewer, older.id, { positionSeconds: 599 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([newer.id]);
    expect(await storedRows(viewer.user.id)).toHaveLength(0);
  });

  it("answers heartbeats alternating between two titles without waiting on KV, and writes the row's copy at most once per interval; the flush brings it up to date", async () => {
    const viewer = await subscribedViewer();
    const [first, second] = [await readyVideo(600), await readyVideo(600)];
    const copyKey = `v1:continue:${viewer.user.id}`;
    const copyWrites: string[] = [];
    // The binding counted and forwarded (the local stack's one-write-per-second-per-key rule still applies below it).
    const counted = new Proxy(env.CACHE, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (property === "put" && args[0] === copyKey) copyWrites.push(copyKey);
          return Reflect.apply(value, target, args);
        };
      },
    }) as KVNamespace;
    const heartbeat = (videoId: string, positionSeconds: number) =>
      call(`/v1/videos/${videoId}/progress`, {
        method: "PUT",
        token: viewer.accessToken,
        json: { positionSeconds },
        env: { CACHE: counted },
      });
    expect((await heartbeat(first.id, 10)).status).toBe(204);
    expect(copyWrites).toHaveLength(1);
    // Two players of the account, or a viewer zapping: the row's order changes on every heartbeat.
    // Before, each one rewrote the copy, KV refused the second write of the key within a second, and
    // the heartbeat waited a second to write it again.
    for (let i = 1; i <= 6; i++) {
      const answered = await heartbeat(i % 2 === 1 ? second.id : first.id, 10 + i);
      expect(answered.status).toBe(204);
    }
    expect(copyWrites).toHaveLength(1);
    expect(await continueWatchingRow(viewer)).toEqual([first.id]);
    // The object's flush carries the row; the consumer writes the copy once. It comes at least a
    // second after the first heartbeat's write (KV takes one write per key per second, and refuses
    // the other without a retry here: on a fast machine the heartbeats above take less than that).
    advanceClock(KV_SAME_KEY_WRITE_INTERVAL_MS);
    const flushed = await runFlush(viewer.user.id);
    expect(flushed.at(-1)?.continueWatching).toEqual([first.id, second.id]);
    await deliverUserCopies(flushed, { env: { CACHE: counted } });
    expect(copyWrites).toHaveLength(2);
    expect(await continueWatchingRow(viewer)).toEqual([first.id, second.id]);
    // Once the interval has passed, a heartbeat that changes the row writes it at once again.
    advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
    expect((await heartbeat(second.id, 30)).status).toBe(204);
    expect(copyWrites).toHaveLength(3);
    expect(await continueWatchingRow(viewer)).toEqual([second.id, first.id]);
  });

  it("sees the heartbeats of every device of the account", async () => {
    const viewer = await subscribedViewer();
    const tablet = await anotherSession(viewer);
    const video = await readyVideo(600);
    expect((await putProgress(tablet, video.id, { positionSeconds: 12 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([video.id]);
  });

  it("repairs the KV copy of the row on the next heartbeat when KV lost it", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await putProgress(viewer, video.id, { positionSeconds: 12 })).status).toBe(204);
    await env.CACHE.delete(`v1:continue:${viewer.user.id}`);
    expect(await continueWatchingRow(viewer)).toBeUndefined();
    advanceClock(HEARTBEAT_COPY_INTERVAL_MS);
    expect((await putProgress(viewer, video.id, { positionSeconds: 17 })).status).toBe(204);
    expect(await continueWatchingRow(viewer)).toEqual([video.id]);
  });

  it("comes from Postgres when KV is down (as of the last copy written there)", async () => {
    const viewer = await subscribedViewer();
    const [flushed, unflushed] = [await readyVideo(600), await readyVideo(600)];
    await putProgress(viewer, flushed.id, { positionSeconds: 60 });
    await deliverUserCopies(await runFlush(viewer.user.id));
    await putProgress(viewer, unflushed.id, { positionSeconds: 30 });
    expect(await continueWatchingRow(viewer, { env: { CACHE: brokenKv } })).toEqual([flushed.id]);
  });
});

describe("one heartbeat", () => {
  it("is one Durable Object call (session, lease and position together) and writes at most two SQLite rows", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    await play(viewer, video.id);
    expect((await putProgress(viewer, video.id, { positionSeconds: 1 })).status).toBe(204);
    const calls = noCalls();
    const counted = countingEnv(env, calls);
    const stub = viewerStateOf(viewer.user.id);
    const before = await stub.flushStats();
    for (let i = 2; i <= 11; i++) {
      calls.durableObjects.length = 0;
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(`http://reelstream.test/v1/videos/${video.id}/progress`, {
          method: "PUT",
          headers: { Authorization: `Bearer ${viewer.accessToken}`, "Content-Type": "application/json" },
          body: JSON.stringify({ positionSeconds: i }),
        }),
        counted,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(204);
      expect(calls.durableObjects).toEqual(["VIEWER_STATE.recordProgress"]);
    }
    const after = await stub.flushStats();
    expect(after.heartbeats - before.heartbeats).toBe(10);
    // The position every time; the lease only once it has run down by a quarter (not within this test's seconds).
    expect(after.heartbeatRowsWritten - before.heartbeatRowsWritten).toBeLessThanOrEqual(20);
    expect(after.heartbeatRowsWritten - before.heartbeatRowsWritten).toBeGreaterThanOrEqual(10);
  });

  it("is refused with 401 and stores nothing once the session signed out", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    const response = await putProgress(viewer, video.id, { positionSeconds: 5 });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    const stored = await runInDurableObject(viewerStateOf(viewer.user.id), (_instance, state) =>
      state.storage.sql.exec("SELECT count(*) AS n FROM progress").one(),
    );
    expect(stored.n).toBe(0);
  });
});

describe("throttling", () => {
  it("refuses a burst of heartbeats on one account with 429 and Retry-After, past 40 in 10 s", async () => {
    const video = await readyVideo(600);
    const viewers = await Promise.all([subscribedViewer(), subscribedViewer()]);
    const refused = await inOneRateWindow(10, async () => {
      const viewer = viewers.shift() as SignedIn;
      const responses = await Promise.all(Array.from({ length: 45 }, (_, i) => putProgress(viewer, video.id, { positionSeconds: i })));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 204)).toHaveLength(40);
      const refused = responses.filter((response) => response.status === 429);
      expect(refused).toHaveLength(5);
      return refused;
    });
    for (const response of refused) expect(response.headers.get("Retry-After")).toBe("10");
    expect((await problemOf(refused[0] as Response)).detail).toMatch(/Too many requests from this account/);
    // Another account is not affected.
    const other = await subscribedViewer();
    expect((await putProgress(other, video.id, { positionSeconds: 1 })).status).toBe(204);
  });
});

describe("write-behind to Postgres", () => {
  it("turns a burst of heartbeats into one message, which the consumer writes and the object then forgets", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    for (let second = 1; second <= 20; second++) {
      expect((await putProgress(viewer, video.id, { positionSeconds: second * 5 })).status).toBe(204);
    }
    const stub = viewerStateOf(viewer.user.id);
    expect(await storedRows(viewer.user.id)).toHaveLength(0);
    const sent = await runFlush(viewer.user.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.progress).toMatchObject([{ videoId: video.id, positionSeconds: 100, finished: false, durationSeconds: 600 }]);
    expect(await stub.flushStats()).toMatchObject({ messagesSent: 1, dirtyRows: 1 });
    await deliverUserCopies(sent);
    const rows = await storedRows(viewer.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ videoId: video.id, positionSeconds: 100, finished: false, durationSeconds: 600 });
    expect(await stub.flushStats()).toMatchObject({ messagesSent: 1, rowsAcknowledged: 1, dirtyRows: 0, inFlightSince: null });
    // Nothing dirty: the next alarm (if any) sends nothing.
    expect(await runFlush(viewer.user.id)).toEqual([]);
  });

  it("loses nothing acknowledged when the object is evicted before its alarm", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await putProgress(viewer, video.id, { positionSeconds: 42 })).status).toBe(204);
    const stub = viewerStateOf(viewer.user.id);
    await evictDurableObject(stub);
    const get = await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken });
    expect(((await get.json()) as { positionSeconds: number }).positionSeconds).toBe(42);
    await deliverUserCopies(await runFlush(viewer.user.id));
    const [row] = await withDatabase((db) =>
      db
        .select()
        .from(watchProgress)
        .where(and(eq(watchProgress.userId, viewer.user.id), eq(watchProgress.videoId, video.id))),
    );
    expect(row?.positionSeconds).toBe(42);
  });

  it("keeps one message in flight, and sends the rows again when it stays unacknowledged (a lost message loses nothing)", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    await putProgress(viewer, video.id, { positionSeconds: 7 });
    const lost = await runFlush(viewer.user.id);
    expect(lost).toHaveLength(1);
    // More heartbeats, an alarm: nothing more goes while the first message is in flight.
    await putProgress(viewer, video.id, { positionSeconds: 12 });
    expect(await runFlush(viewer.user.id)).toEqual([]);
    const stub = viewerStateOf(viewer.user.id);
    const resendAt = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(resendAt).toBe(lost[0]?.sentAt !== undefined ? lost[0].sentAt + RESEND_AFTER_MS : -1);
    // The first message never arrives.
    advanceClock(RESEND_AFTER_MS);
    const resent = await runFlush(viewer.user.id);
    expect(resent.map((message) => message.progress?.map((row) => row.positionSeconds))).toEqual([[12]]);
    await deliverUserCopies(resent);
    expect((await storedRows(viewer.user.id))[0]?.positionSeconds).toBe(12);
    expect(await stub.flushStats()).toMatchObject({ messagesSent: 2, dirtyRows: 0 });
  });

  it("keeps rows dirty and retries with backoff when the queue refuses the message", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    await putProgress(viewer, video.id, { positionSeconds: 7 });
    const stub = viewerStateOf(viewer.user.id);
    // The queue's real limit: a message over 128 KB is refused. Point this object at a binding that refuses everything that way.
    await runInDurableObject(stub, async (instance) => {
      const queue = new Proxy(env.USER_COPIES_QUEUE, {
        get: (target, property) =>
          property === "send"
            ? (message: unknown, options?: QueueSendOptions) => target.send({ padding: "x".repeat(130_000), message } as never, options)
            : Reflect.get(target, property),
      });
      (instance as unknown as { env: Env }).env = { ...env, USER_COPIES_QUEUE: queue };
    });
    expect(await runFlush(viewer.user.id)).toEqual([]);
    expect(await stub.flushStats()).toMatchObject({ messagesSent: 0, sendFailures: 1, dirtyRows: 1, inFlightSince: null });
    const retryAt = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(retryAt).toBeGreaterThan(clockNow());
    await runInDurableObject(stub, async (instance) => {
      (instance as unknown as { env: Env }).env = env;
    });
    await deliverUserCopies(await runFlush(viewer.user.id));
    expect(await stub.flushStats()).toMatchObject({ messagesSent: 1, dirtyRows: 0 });
    expect((await storedRows(viewer.user.id))[0]?.positionSeconds).toBe(7);
  });
});
