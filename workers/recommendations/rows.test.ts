import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { recommendationRuns } from "../../schema/index.ts";
import { testClock } from "../../testing/clock.ts";
import worker from "../../testing/worker/index.ts";
import { insertReadyVideos, signUpAdmin, uniqueGenre, withDatabase } from "../test/catalog.ts";
import { call, type SignedIn, signUp } from "../test/helpers.ts";
import { deliverUserCopies, insertUsers, recordPosition, runFlush } from "../test/user-copies.ts";
import type { VideoSummary } from "../videos/index.ts";

/**
 * Time in this file only moves forward, and is never put back after a test (unlike `advanceClock`):
 * a cron run comes a minute after the last, as in production, and KV's one write per key per
 * second (enforced locally by the Worker's clock) then holds for the rows every run rewrites.
 */
const nextMinute = () => testClock.advance(60_000);

interface Home {
  rows: { id: string; title: string; items: VideoSummary[] }[];
}

/** A word no other test's title or summary has (letters only: search documents split on digits and hyphens). */
function uniqueWord(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(10)), (byte) => String.fromCharCode(97 + (byte % 26))).join("");
}

/** Titles with words of their own, so that "More like this" is decided by what the test gives them. */
function titles(count: number, options: { genres: string[]; cast?: string[] }) {
  return insertReadyVideos(count, {
    genres: options.genres,
    cast: options.cast ?? [uniqueWord()],
    title: () => `${uniqueWord()} ${uniqueWord()}`,
    summary: `${uniqueWord()} ${uniqueWord()}.`,
  });
}

/**
 * Runs the Worker's cron as production does (its `scheduled` handler), with every kind of row due
 * (other test files run the cron too, on their own clocks), then again until everything pending
 * is in KV (a run publishes a bounded number of rows; the test database holds every file's titles).
 */
async function runRowsCron(): Promise<void> {
  await withDatabase((db) => db.delete(recommendationRuns));
  for (let run = 0; run < 20; run++) {
    nextMinute();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    const [left] = await withDatabase((db) =>
      db.execute<{ n: number }>(sql`select count(*)::int as n from recommended_rows where pending`).then((result) => result.rows),
    );
    if (left?.n === 0) return;
  }
  throw new Error("recommended rows still pending after 20 cron runs");
}

/** Heartbeats through the API from `country` (the edge's `request.cf.country`), then the objects' flushes through the consumer. */
async function watchFrom(country: string, viewers: SignedIn[], videoId: string): Promise<void> {
  for (const viewer of viewers) {
    const heartbeat = await call(`/v1/videos/${videoId}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 12 },
      cf: { country },
    });
    expect(heartbeat.status).toBe(204);
  }
  const messages = [];
  for (const viewer of viewers) messages.push(...(await runFlush(viewer.user.id)));
  await deliverUserCopies(messages);
}

/** Views written as the write-behind writes them: each user's object, then its flush through the consumer. */
async function views(watched: [userId: string | undefined, videoIds: (string | undefined)[]][]): Promise<void> {
  const messages = [];
  for (const [userId = "", videoIds] of watched) {
    for (const videoId of videoIds) await recordPosition(userId, videoId ?? "", 30);
    messages.push(...(await runFlush(userId)));
  }
  await deliverUserCopies(messages);
}

async function home(viewer: SignedIn, country?: string): Promise<Home> {
  const response = await call("/v1/home", { token: viewer.accessToken, ...(country ? { cf: { country } } : {}) });
  expect(response.status).toBe(200);
  return response.json();
}

const idsOf = (row: { items: { id: string }[] } | undefined) => row?.items.map((item) => item.id) ?? [];

describe("rows that recommend", () => {
  it("Trending now and Top 10 in the viewer's country come from views, each country its own, and change after more views", async () => {
    const [first, second, third] = await titles(3, { genres: [uniqueGenre("rows")] });
    const icelanders = await Promise.all([signUp(), signUp(), signUp()]);
    const kiwis = await Promise.all([signUp(), signUp()]);
    await watchFrom("IS", icelanders, first?.id ?? "");
    await watchFrom("NZ", kiwis, second?.id ?? "");
    const before = await home(icelanders[0] as SignedIn, "IS");
    // Before the cron has run, the home page answers without rows it does not have.
    expect(before.rows.map((row) => row.id)).not.toContain("top10:IS");

    await runRowsCron();
    const iceland = await home(icelanders[0] as SignedIn, "IS");
    const trending = iceland.rows.find((row) => row.id === "trending");
    expect(trending?.title).toBe("Trending now");
    expect(idsOf(trending)).toContain(first?.id);
    expect(idsOf(trending).indexOf(first?.id ?? "")).toBeLessThan(idsOf(trending).indexOf(second?.id ?? ""));
    expect(idsOf(trending)).not.toContain(third?.id);
    const top = iceland.rows.find((row) => row.id === "top10:IS");
    expect(top?.title).toBe("Top 10 in Iceland");
    expect(idsOf(top)).toEqual([first?.id]);
    expect(top?.items[0]).toMatchObject({ id: first?.id, title: first?.title, posterUrl: expect.stringContaining(`/media/${first?.id}/`) });
    const zealand = await home(kiwis[0] as SignedIn, "NZ");
    expect(zealand.rows.find((row) => row.id === "top10:NZ")).toMatchObject({ title: "Top 10 in New Zealand" });
    expect(idsOf(zealand.rows.find((row) => row.id === "top10:NZ"))).toEqual([second?.id]);
    expect(zealand.rows.map((row) => row.id)).not.toContain("top10:IS");
    // A viewer whose country the edge does not say gets no top 10.
    expect((await home(kiwis[0] as SignedIn)).rows.some((row) => row.id.startsWith("top10:"))).toBe(false);

    // Four more viewers in Iceland watch the second title: it leads both rows once the cron has run again.
    await watchFrom("IS", await Promise.all([signUp(), signUp(), signUp(), signUp()]), second?.id ?? "");
    await runRowsCron();
    const after = await home(icelanders[1] as SignedIn, "IS");
    expect(idsOf(after.rows.find((row) => row.id === "top10:IS"))).toEqual([second?.id, first?.id]);
    const trendingAfter = idsOf(after.rows.find((row) => row.id === "trending"));
    expect(trendingAfter.indexOf(second?.id ?? "")).toBeLessThan(trendingAfter.indexOf(first?.id ?? ""));
  });

  it("Because you watched X: titles co-watched with the viewer's latest, best first, without X or what they are watching", async () => {
    const [watched, together, also, unrelated, watching] = await titles(5, { genres: [uniqueGenre("cowatch")] });
    const [a, b, c, d] = await insertUsers(4);
    const [x, y, z, w, mine] = [watched, together, also, unrelated, watching].map((video) => video?.id);
    await views([
      [a, [x, y]],
      [b, [x, y, mine]],
      [c, [x, z]],
      [d, [w]],
    ]);
    const viewer = await signUp();
    for (const id of [mine, x]) {
      // A heartbeat rewrites the viewer's continue-watching copy at most every 10 s.
      nextMinute();
      const heartbeat = await call(`/v1/videos/${id}/progress`, { method: "PUT", token: viewer.accessToken, json: { positionSeconds: 5 } });
      expect(heartbeat.status).toBe(204);
    }
    await runRowsCron();
    const { rows } = await home(viewer);
    expect(rows[0]?.id).toBe("continue-watching");
    expect(idsOf(rows[0])).toEqual([x, mine]);
    const because = rows.find((row) => row.id === `because:${x}`);
    expect(because?.title).toBe(`Because you watched ${watched?.title}`);
    // y: 2 of x's 3 other viewers; z: 1; w was never watched with x; `mine` is in the viewer's row already.
    expect(idsOf(because)).toEqual([y, z]);
  });

  it("More like this on the title page: shared cast and genre first, never the title itself or an unrelated one", async () => {
    const genre = uniqueGenre("like");
    const actor = `${uniqueWord()} ${uniqueWord()}`;
    const [subject, sameCast, sameGenre] = [
      ...(await titles(2, { genres: [genre], cast: [actor] })),
      ...(await titles(1, { genres: [genre] })),
    ];
    const [unrelated] = await titles(1, { genres: [uniqueGenre("other")] });
    const viewer = await signUp();
    await runRowsCron();
    const response = await call(`/v1/videos/${subject?.id}`, { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const { video, moreLikeThis } = (await response.json()) as { video: { id: string }; moreLikeThis: VideoSummary[] };
    expect(video.id).toBe(subject?.id);
    expect(moreLikeThis.map((item) => item.id)).toEqual([sameCast?.id, sameGenre?.id]);
    expect(moreLikeThis[0]).toMatchObject({ title: sameCast?.title, genres: [genre] });
    expect(moreLikeThis.map((item) => item.id)).not.toContain(unrelated?.id);
  });

  it("drops a title that is no longer published from every row at the next cron run, and the rows it was the subject of", async () => {
    const genre = uniqueGenre("gone");
    const actor = `${uniqueWord()} ${uniqueWord()}`;
    const [kept, removed] = await titles(2, { genres: [genre], cast: [actor] });
    const [a, b] = await insertUsers(2);
    await views([
      [a, [kept?.id, removed?.id]],
      [b, [removed?.id, kept?.id]],
    ]);
    await runRowsCron();
    const viewer = await signUp();
    const likeOf = async (id: string) =>
      ((await (await call(`/v1/videos/${id}`, { token: viewer.accessToken })).json()) as { moreLikeThis: VideoSummary[] }).moreLikeThis;
    expect((await likeOf(kept?.id ?? "")).map((item) => item.id)).toEqual([removed?.id]);
    expect(idsOf((await home(viewer)).rows.find((row) => row.id === "trending"))).toContain(removed?.id);
    const admin = await signUpAdmin();
    expect((await call(`/v1/admin/videos/${removed?.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await runRowsCron();
    expect(await likeOf(kept?.id ?? "")).toEqual([]);
    expect(idsOf((await home(viewer)).rows.find((row) => row.id === "trending"))).not.toContain(removed?.id);
    const rowsAbout = await withDatabase((db) =>
      db.execute(sql`select kind from recommended_rows where subject = ${removed?.id ?? ""}`).then((result) => result.rows),
    );
    expect(rowsAbout).toEqual([]);
    expect(await env.CACHE.get(`v1:rows:like:${removed?.id}`)).toBeNull();
  });
});
