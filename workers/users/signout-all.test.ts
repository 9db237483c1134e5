import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessions } from "../../schema/index.ts";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { withDatabase } from "../test/catalog.ts";
import { call, type SignedIn, signUp } from "../test/helpers.ts";
import { anotherSession, play, readyVideo, subscribedViewer } from "../test/playback.ts";

const signoutAll = (token: string, init: Parameters<typeof call>[1] = {}) =>
  call("/v1/auth/signout-all", { method: "POST", token, ...init });

const sidOf = (viewer: SignedIn) => (JSON.parse(atob(viewer.accessToken.split(".")[1] ?? "")) as { sid: string }).sid;

describe("POST /v1/auth/signout-all", () => {
  it("ends every session of the account at once: tokens, streams, browse, and the Postgres copy", async () => {
    const phone = await subscribedViewer("premium");
    const [tv, laptop] = [await anotherSession(phone), await anotherSession(phone)];
    const stranger = await signUp();
    const video = await readyVideo();
    const playing = await play(tv, video.id);
    const manifest = new URL(playing.manifestUrl).pathname;
    expect((await call(manifest)).status).toBe(200);
    expect((await call("/v1/videos", { token: laptop.accessToken })).status).toBe(200);

    expect((await signoutAll(phone.accessToken)).status).toBe(204);

    for (const device of [phone, tv, laptop]) {
      expect((await call("/v1/me", { token: device.accessToken })).status).toBe(401);
      expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: device.refreshToken } })).status).toBe(401);
      expect((await call("/v1/videos", { token: device.accessToken })).status).toBe(401);
      const { keys } = await env.CACHE.list({ prefix: `v1:revoked-session:${sidOf(device)}` });
      expect(keys).toHaveLength(1);
    }
    expect((await call(manifest)).status).toBe(403);
    const copies = await withDatabase((db) => db.select().from(sessions).where(eq(sessions.userId, phone.user.id)));
    expect(copies).toHaveLength(3);
    for (const copy of copies) expect(copy).toMatchObject({ revokedReason: "signout-everywhere", revokedAt: expect.any(Date) });

    // Another account is untouched; the signed-out one signs in again as usual.
    expect((await call("/v1/me", { token: stranger.accessToken })).status).toBe(200);
    const again = await anotherSession(phone);
    expect((await call("/v1/me", { token: again.accessToken })).status).toBe(200);
    await play(again, video.id);
  });

  it("needs no database: the sessions end in the user's object", async () => {
    const phone = await signUp();
    const tv = await anotherSession(phone);
    const withoutDatabase = { env: { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL } };
    expect((await signoutAll(tv.accessToken, withoutDatabase)).status).toBe(204);
    for (const device of [phone, tv]) {
      expect((await call("/v1/me", { token: device.accessToken, ...withoutDatabase })).status).toBe(401);
      expect(
        (await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: device.refreshToken }, ...withoutDatabase })).status,
      ).toBe(401);
    }
  });

  it("needs a live session", async () => {
    expect((await call("/v1/auth/signout-all", { method: "POST" })).status).toBe(401);
    const viewer = await signUp();
    expect((await signoutAll(viewer.accessToken)).status).toBe(204);
    expect((await signoutAll(viewer.accessToken)).status).toBe(401);
  });
});
