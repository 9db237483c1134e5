import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { myList, videoRatings, videos } from "../../schema/index.ts";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { KV_SAME_KEY_WRITE_INTERVAL_MS } from "../platform/kv-limits.ts";
import { brokenKv, callWithEnv, insertReadyVideos, problemOf, withDatabase } from "../test/catalog.ts";
import { advanceClock, call, type SignedIn, signUp } from "../test/helpers.ts";
import { deliverUserCopies, runFlush, viewerStateOf } from "../test/user-copies.ts";
import { MY_LIST_MAX } from "./service.ts";

const databaseDown = { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL };

/** Each change a second after the one before, by the test clock: KV takes one write per key per second. */
function change(viewer: SignedIn, method: "PUT" | "DELETE", path: string, init: { json?: unknown; env?: Partial<Env> } = {}) {
  advanceClock(KV_SAME_KEY_WRITE_INTERVAL_MS);
  return call(path, { method, token: viewer.accessToken, ...init });
}

async function myListIds(viewer: SignedIn, env?: Partial<Env>): Promise<string[]> {
  const response = await call("/v1/my-list", { token: viewer.accessToken, env });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { items: { id: string }[]; count: number; max: number };
  expect(body.max).toBe(MY_LIST_MAX);
  expect(body.count).toBe(body.items.length);
  return body.items.map((item) => item.id);
}

async function homeRow(viewer: SignedIn, id: string, env?: Partial<Env>): Promise<string[] | undefined> {
  const response = await call("/v1/home", { token: viewer.accessToken, env });
  expect(response.status).toBe(200);
  const { rows } = (await response.json()) as { rows: { id: string; title: string; items: { id: string }[] }[] };
  return rows.find((row) => row.id === id)?.items.map((item) => item.id);
}

async function titleState(viewer: SignedIn, videoId: string, env?: Partial<Env>) {
  const response = await call(`/v1/videos/${videoId}/my-state`, { token: viewer.accessToken, env });
  expect(response.status).toBe(200);
  return response.json();
}

/** The object's flush, delivered to the consumer at once: what Postgres holds after it. */
async function flushToPostgres(userId: string) {
  const sent = await runFlush(userId);
  expect(sent).toHaveLength(1);
  expect((await deliverUserCopies(sent)).explicitAcks).toHaveLength(1);
  return withDatabase(async (db) => ({
    listed: await db.select().from(myList).where(eq(myList.userId, userId)),
    ratings: await db.select().from(videoRatings).where(eq(videoRatings.userId, userId)),
  }));
}

describe("My List", () => {
  it("adds, lists (most recent first), and removes titles; the home page's My List row follows each change at once", async () => {
    const viewer = await signUp();
    const [first, second] = (await insertReadyVideos(2, { genres: [] })).map((video) => video.id);
    expect(await myListIds(viewer)).toEqual([]);
    expect(await homeRow(viewer, "my-list")).toBeUndefined();

    const added = await change(viewer, "PUT", `/v1/my-list/${first}`);
    expect(added.status).toBe(200);
    expect(await added.json()).toEqual({ videoId: first, inMyList: true, count: 1, max: MY_LIST_MAX });
    expect(await homeRow(viewer, "my-list")).toEqual([first]);
    expect((await change(viewer, "PUT", `/v1/my-list/${second}`)).status).toBe(200);
    // Adding a listed title again changes nothing (and writes nothing).
    const again = await change(viewer, "PUT", `/v1/my-list/${first}`);
    expect(((await again.json()) as { count: number }).count).toBe(2);
    expect(await myListIds(viewer)).toEqual([second, first]);
    expect(await homeRow(viewer, "my-list")).toEqual([second, first]);
    expect(await titleState(viewer, first ?? "")).toEqual({ videoId: first, inMyList: true, rating: null });

    const removed = await change(viewer, "DELETE", `/v1/my-list/${second}`);
    expect(await removed.json()).toEqual({ videoId: second, inMyList: false, count: 1, max: MY_LIST_MAX });
    expect(await homeRow(viewer, "my-list")).toEqual([first]);
    // Not on the list: nothing changes.
    expect((await change(viewer, "DELETE", `/v1/my-list/${second}`)).status).toBe(200);
    expect(await myListIds(viewer)).toEqual([first]);
    // Another account's list is its own.
    expect(await myListIds(await signUp())).toEqual([]);
  });

  it("refuses a title that does not exist or is not published (404 in words), and a signed-out session (401)", async () => {
    const viewer = await signUp();
    const missing = await change(viewer, "PUT", "/v1/my-list/nosuchvideo000000000");
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).detail).toMatch(/no published title/);
    const [draft] = await insertReadyVideos(1, { genres: [] });
    await withDatabase((db) =>
      db
        .update(videos)
        .set({ state: "transcoding", publishedAt: null })
        .where(eq(videos.id, draft?.id ?? "")),
    );
    expect((await change(viewer, "PUT", `/v1/my-list/${draft?.id}`)).status).toBe(404);
    expect(await myListIds(viewer)).toEqual([]);

    expect((await call("/v1/my-list")).status).toBe(401);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    const [video] = await insertReadyVideos(1, { genres: [] });
    const refused = await change(viewer, "PUT", `/v1/my-list/${video?.id}`);
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).detail).toMatch(/session has ended/);
  });

  it(`holds ${MY_LIST_MAX} titles: one more is refused in words and nothing is dropped`, async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [] });
    // The object does not look titles up: fill it straight (no HTTP, no per-account limiter).
    const stub = viewerStateOf(viewer.user.id);
    for (let i = 0; i < MY_LIST_MAX; i++) {
      const filled = await stub.addToMyList({
        userId: viewer.user.id,
        sessionId: "filler",
        profileId: viewer.user.id,
        videoId: `filler${String(i).padStart(14, "0")}`,
        max: MY_LIST_MAX,
        flushDelayMs: 60_000,
      });
      expect(filled).toMatchObject({ revoked: false, outcome: "added" });
    }
    const full = await change(viewer, "PUT", `/v1/my-list/${video?.id}`);
    expect(full.status).toBe(409);
    expect((await problemOf(full)).detail).toBe(
      `Your list is full: it holds ${MY_LIST_MAX} titles, the most a list can. Remove a title from My List to add another.`,
    );
    const answer = await stub.myList({ sessionId: "filler", profileId: viewer.user.id });
    expect(answer.revoked === false && answer.entries.length).toBe(MY_LIST_MAX);
  });

  it("keeps KV's one write per key per second: a second change within the second waits for it, and the viewer sees both at once", async () => {
    const viewer = await signUp();
    const [first, second] = (await insertReadyVideos(2, { genres: [] })).map((video) => video.id);
    expect((await change(viewer, "PUT", `/v1/my-list/${first}`)).status).toBe(200);
    // No clock move: the local stack refuses the copy's second write within the second, as KV does,
    // and the route writes it once more when the second has passed (on whichever clock the services run).
    const quick = await call(`/v1/my-list/${second}`, { method: "PUT", token: viewer.accessToken });
    expect(quick.status).toBe(200);
    expect(await homeRow(viewer, "my-list")).toEqual([second, first]);
  });

  it("repairs a copy KV refused when the list is next read", async () => {
    const viewer = await signUp();
    const [first, second] = (await insertReadyVideos(2, { genres: [] })).map((video) => video.id);
    expect((await change(viewer, "PUT", `/v1/my-list/${first}`)).status).toBe(200);
    // KV fails for this change: the object has it all the same.
    expect((await change(viewer, "PUT", `/v1/my-list/${second}`, { env: { CACHE: brokenKv } })).status).toBe(200);
    expect(await homeRow(viewer, "my-list")).toEqual([first]);
    advanceClock(KV_SAME_KEY_WRITE_INTERVAL_MS);
    expect(await myListIds(viewer)).toEqual([second, first]);
    expect(await homeRow(viewer, "my-list")).toEqual([second, first]);
  });
});

describe("ratings", () => {
  it("thumbs up, down and none per title; the title's state shows it", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [] });
    const path = `/v1/videos/${video?.id}/rating`;
    const up = await change(viewer, "PUT", path, { json: { rating: "up" } });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ videoId: video?.id, inMyList: false, rating: "up" });
    expect(((await (await change(viewer, "PUT", path, { json: { rating: "down" } })).json()) as { rating: string }).rating).toBe("down");
    expect(await titleState(viewer, video?.id ?? "")).toMatchObject({ rating: "down" });
    const cleared = await change(viewer, "DELETE", path);
    expect(await cleared.json()).toEqual({ videoId: video?.id, inMyList: false, rating: null });
  });

  it("refuses a rating that is not up or down (400 naming the field), and a title that is not published (404)", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [] });
    const bad = await change(viewer, "PUT", `/v1/videos/${video?.id}/rating`, { json: { rating: 5 } });
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).errors?.[0]?.path).toBe("rating");
    const missing = await change(viewer, "PUT", "/v1/videos/nosuchvideo000000000/rating", { json: { rating: "up" } });
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).detail).toMatch(/no published title/);
    expect(await titleState(viewer, video?.id ?? "")).toMatchObject({ rating: null });
  });
});

describe("copied behind to Postgres", () => {
  it("writes the list and the thumbs with the object's flush, and deletes what was taken back", async () => {
    const viewer = await signUp();
    const [kept = "", dropped = ""] = (await insertReadyVideos(2, { genres: [] })).map((video) => video.id);
    await change(viewer, "PUT", `/v1/my-list/${kept}`);
    await change(viewer, "PUT", `/v1/my-list/${dropped}`);
    await change(viewer, "PUT", `/v1/videos/${kept}/rating`, { json: { rating: "up" } });
    await change(viewer, "PUT", `/v1/videos/${dropped}/rating`, { json: { rating: "down" } });
    const first = await flushToPostgres(viewer.user.id);
    expect(first.listed.map((row) => row.videoId).sort()).toEqual([kept, dropped].sort());
    expect(first.listed[0]).toMatchObject({ profileId: viewer.user.id, userId: viewer.user.id });
    expect(Object.fromEntries(first.ratings.map((row) => [row.videoId, row.rating]))).toEqual({ [kept]: 1, [dropped]: -1 });
    expect((await viewerStateOf(viewer.user.id).flushStats()).dirtyRows).toBe(0);

    await change(viewer, "DELETE", `/v1/my-list/${dropped}`);
    await change(viewer, "DELETE", `/v1/videos/${dropped}/rating`);
    await change(viewer, "PUT", `/v1/videos/${kept}/rating`, { json: { rating: "down" } });
    const second = await flushToPostgres(viewer.user.id);
    expect(second.listed.map((row) => row.videoId)).toEqual([kept]);
    expect(second.ratings.map((row) => [row.videoId, row.rating])).toEqual([[kept, -1]]);
    expect((await viewerStateOf(viewer.user.id).flushStats()).dirtyRows).toBe(0);
  });

  it("loses nothing while Postgres is down: every route answers from the object and KV, and the copies arrive once it is back", async () => {
    const viewer = await signUp();
    const [video, other] = await insertReadyVideos(2, { genres: [] });
    const id = video?.id ?? "";
    // The titles' documents are in KV, as for any title a viewer has opened.
    for (const known of [id, other?.id]) expect((await call(`/v1/videos/${known}`, { token: viewer.accessToken })).status).toBe(200);
    const env = databaseDown;
    expect((await change(viewer, "PUT", `/v1/my-list/${id}`, { env })).status).toBe(200);
    expect((await change(viewer, "PUT", `/v1/my-list/${other?.id}`, { env })).status).toBe(200);
    expect((await change(viewer, "DELETE", `/v1/my-list/${other?.id}`, { env })).status).toBe(200);
    expect((await change(viewer, "PUT", `/v1/videos/${id}/rating`, { json: { rating: "up" }, env })).status).toBe(200);
    expect(await myListIds(viewer, env)).toEqual([id]);
    expect(await titleState(viewer, id, env)).toEqual({ videoId: id, inMyList: true, rating: "up" });

    // The flush meets the outage: retried, nothing written, nothing forgotten.
    const sent = await runFlush(viewer.user.id);
    expect(sent).toHaveLength(1);
    const failed = await deliverUserCopies(sent, { env });
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages).toHaveLength(1);
    expect((await viewerStateOf(viewer.user.id).flushStats()).dirtyRows).toBe(3);
    // Back: the retry writes it all.
    expect((await deliverUserCopies(sent, { attempts: 2 })).explicitAcks).toHaveLength(1);
    const rows = await withDatabase(async (db) => ({
      listed: await db.select().from(myList).where(eq(myList.userId, viewer.user.id)),
      ratings: await db
        .select()
        .from(videoRatings)
        .where(and(eq(videoRatings.userId, viewer.user.id), inArray(videoRatings.videoId, [id]))),
    }));
    expect(rows.listed.map((row) => row.videoId)).toEqual([id]);
    expect(rows.ratings.map((row) => row.rating)).toEqual([1]);
    expect((await viewerStateOf(viewer.user.id).flushStats()).dirtyRows).toBe(0);
  });
});

describe("a title's own state", () => {
  it("is the caller's: another account sees its own", async () => {
    const [owner, stranger] = [await signUp(), await signUp()];
    const [video] = await insertReadyVideos(1, { genres: [] });
    await change(owner, "PUT", `/v1/my-list/${video?.id}`);
    await change(owner, "PUT", `/v1/videos/${video?.id}/rating`, { json: { rating: "up" } });
    expect(await titleState(stranger, video?.id ?? "")).toEqual({ videoId: video?.id, inMyList: false, rating: null });
    expect((await callWithEnv({}, `/v1/videos/${video?.id}/my-state`)).status).toBe(401);
  });
});
