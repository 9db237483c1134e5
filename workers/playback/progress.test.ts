import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { watchProgress } from "../../schema/index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { call, type SignedIn } from "../test/helpers.ts";
import { play, readyVideo, subscribedViewer } from "./test/fixtures.ts";

function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

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
    expect(Math.abs(Date.parse(body.updatedAt) - Date.now())).toBeLessThan(10_000);
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

describe("write-behind to Postgres", () => {
  it("turns a burst of heartbeats into one database write, flushed by the alarm", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    for (let second = 1; second <= 20; second++) {
      expect((await putProgress(viewer, video.id, { positionSeconds: second * 5 })).status).toBe(204);
    }
    const stub = viewerStateOf(viewer.user.id);
    expect(await storedRows(viewer.user.id)).toHaveLength(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await storedRows(viewer.user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ videoId: video.id, positionSeconds: 100, finished: false, durationSeconds: 600 });
    expect(await stub.flushStats()).toMatchObject({ flushes: 1, rowsFlushed: 1, dirtyRows: 0 });
    // Nothing dirty: the next alarm (if any) writes nothing.
    await runDurableObjectAlarm(stub);
    expect((await stub.flushStats()).flushes).toBe(1);
  });

  it("feeds the home page's continue-watching row, and a finished title leaves it", async () => {
    const viewer = await subscribedViewer();
    const [older, newer] = [await readyVideo(600), await readyVideo(600)];
    await putProgress(viewer, older?.id ?? "", { positionSeconds: 60 });
    await putProgress(viewer, newer?.id ?? "", { positionSeconds: 30 });
    await runDurableObjectAlarm(viewerStateOf(viewer.user.id));
    const home = (await (await call("/v1/home", { token: viewer.accessToken })).json()) as {
      rows: { id: string; items: { id: string }[] }[];
    };
    expect(home.rows[0]?.id).toBe("continue-watching");
    expect(home.rows[0]?.items.map((item) => item.id)).toEqual([newer.id, older.id]);

    await putProgress(viewer, newer.id, { positionSeconds: 599 });
    await runDurableObjectAlarm(viewerStateOf(viewer.user.id));
    const after = (await (await call("/v1/home", { token: viewer.accessToken })).json()) as {
      rows: { id: string; items: { id: string }[] }[];
    };
    expect(after.rows[0]?.items.map((item) => item.id)).toEqual([older.id]);
  });

  it("loses nothing acknowledged when the object is evicted before its alarm", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    expect((await putProgress(viewer, video.id, { positionSeconds: 42 })).status).toBe(204);
    const stub = viewerStateOf(viewer.user.id);
    await evictDurableObject(stub);
    const get = await call(`/v1/videos/${video.id}/progress`, { token: viewer.accessToken });
    expect(((await get.json()) as { positionSeconds: number }).positionSeconds).toBe(42);
    await runDurableObjectAlarm(stub);
    const [row] = await withDatabase((db) =>
      db
        .select()
        .from(watchProgress)
        .where(and(eq(watchProgress.userId, viewer.user.id), eq(watchProgress.videoId, video.id))),
    );
    expect(row?.positionSeconds).toBe(42);
  });

  it("keeps rows dirty and retries when Postgres cannot be reached", async () => {
    const viewer = await subscribedViewer();
    const video = await readyVideo(600);
    await putProgress(viewer, video.id, { positionSeconds: 7 });
    const stub = viewerStateOf(viewer.user.id);
    // Point this object's flush at a database that refuses connections.
    await runInDurableObject(stub, async (instance) => {
      const broken = { ...env, DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none" };
      (instance as unknown as { env: Env }).env = broken;
    });
    await runDurableObjectAlarm(stub);
    expect(await stub.flushStats()).toMatchObject({ flushes: 0, failures: 1, dirtyRows: 1 });
    const retryAt = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(retryAt).toBeGreaterThan(Date.now());
    await runInDurableObject(stub, async (instance) => {
      (instance as unknown as { env: Env }).env = env;
    });
    await runDurableObjectAlarm(stub);
    expect(await stub.flushStats()).toMatchObject({ flushes: 1, dirtyRows: 0 });
    expect((await storedRows(viewer.user.id))[0]?.positionSeconds).toBe(7);
  });
});
