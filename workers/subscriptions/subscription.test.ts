import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { subscriptions } from "../../schema/index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";

interface SubscriptionBody {
  subscription: { planId: string; status: string; currentPeriodEnd: string; cancelAt: string | null } | null;
}

const subscribeTo = (token: string, planId: string) => call("/v1/subscription", { method: "POST", token, json: { planId } });

async function body(response: Response): Promise<SubscriptionBody> {
  return (await response.json()) as SubscriptionBody;
}

/** Moves a subscription's period into the past, as if a month had gone by. */
function endPeriod(userId: string) {
  return withDatabase((db) =>
    db
      .update(subscriptions)
      .set({
        currentPeriodStart: sql`now() - interval '2 months'`,
        currentPeriodEnd: sql`now() - interval '1 month'`,
        cancelAt: sql`case when status = 'canceled' then now() - interval '1 month' end`,
      })
      .where(eq(subscriptions.userId, userId)),
  );
}

describe("GET /v1/subscription", () => {
  it("is null before the first subscribe", async () => {
    const viewer = await signUp();
    const response = await call("/v1/subscription", { token: viewer.accessToken });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subscription: null });
  });

  it("answers 401 with WWW-Authenticate without a token", async () => {
    const response = await call("/v1/subscription");
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain("Bearer");
    await problemOf(response);
  });

  it("shows each user only their own subscription", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    expect((await subscribeTo(alice.accessToken, "premium")).status).toBe(201);
    expect(await body(await call("/v1/subscription", { token: bob.accessToken }))).toEqual({ subscription: null });
  });
});

describe("POST /v1/subscription", () => {
  it("subscribes (201), changes plan within the period (200), and /v1/me shows it", async () => {
    const viewer = await signUp();
    const created = await subscribeTo(viewer.accessToken, "basic");
    expect(created.status).toBe(201);
    const first = (await body(created)).subscription;
    expect(first).toMatchObject({ planId: "basic", status: "active", cancelAt: null });
    const periodEnd = new Date(first?.currentPeriodEnd ?? 0).getTime();
    // About a month from now.
    expect(periodEnd - Date.now()).toBeGreaterThan(27 * 86_400_000);
    expect(periodEnd - Date.now()).toBeLessThan(32 * 86_400_000);

    const changed = await subscribeTo(viewer.accessToken, "premium");
    expect(changed.status).toBe(200);
    const second = (await body(changed)).subscription;
    expect(second).toMatchObject({ planId: "premium", status: "active", currentPeriodEnd: first?.currentPeriodEnd });

    const me = await call("/v1/me", { token: viewer.accessToken });
    expect(((await me.json()) as SubscriptionBody).subscription).toEqual(second);
    expect(await body(await call("/v1/subscription", { token: viewer.accessToken }))).toEqual({ subscription: second });
  });

  it("keeps exactly one subscription under concurrent subscribes: one 201, the rest 200", async () => {
    const viewer = await signUp();
    const plans = ["basic", "standard", "premium"];
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => subscribeTo(viewer.accessToken, plans[i % 3] ?? "basic")));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(11);
    const rows = await withDatabase((db) => db.select().from(subscriptions).where(eq(subscriptions.userId, viewer.user.id)));
    expect(rows).toHaveLength(1);
    const current = (await body(await call("/v1/subscription", { token: viewer.accessToken }))).subscription;
    expect(current?.planId).toBe(rows[0]?.planId);
  });

  it("answers 400 naming the plans for an unknown plan, and stores nothing", async () => {
    const viewer = await signUp();
    const response = await subscribeTo(viewer.accessToken, "platinum");
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.detail).toContain("basic, standard, premium");
    expect(problem.errors?.[0]?.path).toBe("planId");
    expect(await body(await call("/v1/subscription", { token: viewer.accessToken }))).toEqual({ subscription: null });
  });

  it("refuses unknown fields, so a client cannot set its own status or period", async () => {
    const viewer = await signUp();
    const response = await call("/v1/subscription", {
      method: "POST",
      token: viewer.accessToken,
      json: { planId: "basic", status: "active", currentPeriodEnd: "2099-01-01T00:00:00Z" },
    });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).errors?.length).toBeGreaterThan(0);
  });

  it("answers 400 for a missing or empty planId and 401 without a token", async () => {
    const viewer = await signUp();
    expect((await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: {} })).status).toBe(400);
    expect((await subscribeTo(viewer.accessToken, "")).status).toBe(400);
    expect((await call("/v1/subscription", { method: "POST", json: { planId: "basic" } })).status).toBe(401);
  });
});

describe("DELETE /v1/subscription", () => {
  it("cancels at the period end; subscribing again withdraws the cancellation (200)", async () => {
    const viewer = await signUp();
    const started = (await body(await subscribeTo(viewer.accessToken, "standard"))).subscription;
    const canceled = await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    expect(canceled.status).toBe(200);
    const afterCancel = (await body(canceled)).subscription;
    expect(afterCancel).toMatchObject({ planId: "standard", status: "canceled", currentPeriodEnd: started?.currentPeriodEnd });
    expect(afterCancel?.cancelAt).toBe(started?.currentPeriodEnd);

    // Canceling again answers the same, unchanged.
    const again = await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    expect(again.status).toBe(200);
    expect((await body(again)).subscription).toEqual(afterCancel);

    const resumed = await subscribeTo(viewer.accessToken, "standard");
    expect(resumed.status).toBe(200);
    expect((await body(resumed)).subscription).toMatchObject({
      status: "active",
      cancelAt: null,
      currentPeriodEnd: started?.currentPeriodEnd,
    });
  });

  it("a subscribe after a canceled period has ended starts a new period (201)", async () => {
    const viewer = await signUp();
    await subscribeTo(viewer.accessToken, "basic");
    await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    await endPeriod(viewer.user.id);
    const renewed = await subscribeTo(viewer.accessToken, "premium");
    expect(renewed.status).toBe(201);
    const subscription = (await body(renewed)).subscription;
    expect(subscription).toMatchObject({ planId: "premium", status: "active", cancelAt: null });
    expect(new Date(subscription?.currentPeriodEnd ?? 0).getTime()).toBeGreaterThan(Date.now() + 27 * 86_400_000);
  });

  it("answers 404 when there is nothing to cancel, and 401 without a token", async () => {
    const viewer = await signUp();
    const response = await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    expect(response.status).toBe(404);
    expect((await problemOf(response)).detail).toMatch(/no subscription/);
    expect((await call("/v1/subscription", { method: "DELETE" })).status).toBe(401);
  });
});
