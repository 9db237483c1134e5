import { env, runInDurableObject } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { subscriptions } from "../../schema/index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { advanceClock, call, clockNow, type SignedIn, signUp } from "../test/helpers.ts";
import { anotherSession, readyVideo, subscribedViewer } from "../test/playback.ts";
import { runCron } from "../test/transcoding.ts";

function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

const playOf = (viewer: SignedIn, videoId: string) => call(`/v1/videos/${videoId}/play`, { token: viewer.accessToken });

async function playedHeight(viewer: SignedIn, videoId: string): Promise<number> {
  const response = await playOf(viewer, videoId);
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { maxHeight: number }).maxHeight;
}

describe("the entitlement, held by the user's object and checked by play", () => {
  it("refuses play without a plan (402), plays once subscribed, and follows a plan change at once", async () => {
    const viewer = await signUp();
    const video = await readyVideo();
    const refused = await playOf(viewer, video.id);
    expect(refused.status).toBe(402);
    expect((await problemOf(refused)).detail).toMatch(/subscription/);
    expect((await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "basic" } })).status).toBe(201);
    expect(await playedHeight(viewer, video.id)).toBe(480);
    expect((await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "premium" } })).status).toBe(200);
    expect(await playedHeight(viewer, video.id)).toBe(2160);
  });

  it("keeps a canceled subscription playing until currentPeriodEnd, and not after, on the object's clock", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const canceled = await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    const periodEnd = Date.parse(((await canceled.json()) as { subscription: { currentPeriodEnd: string } }).subscription.currentPeriodEnd);
    expect(periodEnd).toBeGreaterThan(clockNow());

    // A month on, the first session has ended too (sessions last 30 days): the viewer signs in again.
    advanceClock(periodEnd - clockNow() - 1000);
    const later = await anotherSession(viewer);
    const last = await playOf(later, video.id);
    expect(last.status).toBe(200);
    // No media URL outlives the paid period.
    expect(Date.parse(((await last.json()) as { expiresAt: string }).expiresAt)).toBeLessThanOrEqual(periodEnd);
    advanceClock(2000);
    expect((await playOf(later, video.id)).status).toBe(402);
  });

  it("is filled from Postgres when the object holds no copy (an account from before the copies)", async () => {
    const viewer = await subscribedViewer("premium");
    const video = await readyVideo();
    const stub = viewerStateOf(viewer.user.id);
    await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("DELETE FROM subscription"));
    expect((await stub.accountView()).subscription).toBeUndefined();
    expect(await playedHeight(viewer, video.id)).toBe(2160);
    expect((await stub.accountView()).subscription).toMatchObject({ planId: "premium", maxHeight: 2160, screens: 4, status: "active" });
  });

  it("reaches the object through the cron when a change was written to Postgres alone", async () => {
    const viewer = await subscribedViewer("basic");
    const video = await readyVideo();
    // A writer that pushes nothing (a billing script, a push that failed): Postgres changes, the object does not.
    await withDatabase((db) =>
      db
        .update(subscriptions)
        .set({ planId: "premium", updatedAt: new Date(clockNow()) })
        .where(eq(subscriptions.userId, viewer.user.id)),
    );
    expect(await playedHeight(viewer, video.id)).toBe(480);
    await runCron({ env });
    expect(await playedHeight(viewer, video.id)).toBe(2160);
    const [row] = await withDatabase((db) =>
      db
        .select({ behind: sql<boolean>`${subscriptions.copiedAt} is distinct from ${subscriptions.updatedAt}` })
        .from(subscriptions)
        .where(eq(subscriptions.userId, viewer.user.id)),
    );
    expect(row?.behind).toBe(false);
  });

  it("keeps the newest copy: one that arrives late with an older version is ignored", async () => {
    const viewer = await subscribedViewer("premium");
    const stub = viewerStateOf(viewer.user.id);
    const held = await stub.accountView();
    const older = {
      subscription: held.subscription ? { ...held.subscription, planId: "basic", maxHeight: 480, screens: 1 } : null,
      version: 1,
    };
    expect(await stub.putSubscription(older)).toEqual({ kept: false, streamsEnded: 0 });
    expect((await stub.accountView()).subscription).toMatchObject({ planId: "premium" });
  });
});
