import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { call } from "../test/helpers.ts";
import { subscribedViewer } from "../test/playback.ts";

const withoutDatabase = { env: { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL } };

function viewerStateOf(userId: string) {
  return env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)) as DurableObjectStub<ViewerState>;
}

describe("GET /v1/me, from the user's object", () => {
  it("answers the account and the subscription with the database unreachable", async () => {
    const viewer = await subscribedViewer("standard");
    const subscription = ((await (await call("/v1/subscription", { token: viewer.accessToken })).json()) as { subscription: unknown })
      .subscription;
    const response = await call("/v1/me", { token: viewer.accessToken, ...withoutDatabase });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("private, no-store");
    expect(await response.json()).toEqual({ user: viewer.user, subscription });
  });

  it("fills an object that holds no copy yet from Postgres, and needs no query after", async () => {
    const viewer = await subscribedViewer("basic");
    const stub = viewerStateOf(viewer.user.id);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("DELETE FROM account");
      state.storage.sql.exec("DELETE FROM subscription");
    });
    // Without Postgres, an object with nothing to show cannot answer.
    expect((await call("/v1/me", { token: viewer.accessToken, ...withoutDatabase })).status).toBe(503);
    const filled = await call("/v1/me", { token: viewer.accessToken });
    expect(filled.status).toBe(200);
    expect(await filled.json()).toMatchObject({ user: viewer.user, subscription: { planId: "basic", status: "active" } });
    expect((await call("/v1/me", { token: viewer.accessToken, ...withoutDatabase })).status).toBe(200);
  });
});
