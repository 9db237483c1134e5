import { describe, expect, it } from "vitest";
import { withDatabase } from "../test/catalog.ts";
import { advanceClock, call, clockNow, signUp } from "../test/helpers.ts";
import { getEntitlement } from "./service.ts";

const entitlementOf = (userId: string) => withDatabase((db) => getEntitlement(db, userId, new Date(clockNow())));

describe("getEntitlement", () => {
  it("is null without a subscription", async () => {
    const viewer = await signUp();
    expect(await entitlementOf(viewer.user.id)).toBeNull();
  });

  it("gives the plan's maxHeight and screens, and follows a plan change at once", async () => {
    const viewer = await signUp();
    await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "basic" } });
    expect(await entitlementOf(viewer.user.id)).toMatchObject({ planId: "basic", maxHeight: 480, screens: 1, status: "active" });
    await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "premium" } });
    expect(await entitlementOf(viewer.user.id)).toMatchObject({ planId: "premium", maxHeight: 2160, screens: 4 });
  });

  it("keeps a canceled subscription entitled until currentPeriodEnd, and not after", async () => {
    const viewer = await signUp();
    await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: "standard" } });
    await call("/v1/subscription", { method: "DELETE", token: viewer.accessToken });
    const entitlement = await entitlementOf(viewer.user.id);
    expect(entitlement).toMatchObject({ planId: "standard", maxHeight: 1080, screens: 2, status: "canceled" });
    const periodEnd = entitlement?.currentPeriodEnd.getTime() ?? 0;
    expect(periodEnd).toBeGreaterThan(clockNow());

    advanceClock(periodEnd - clockNow() - 1000);
    expect(await entitlementOf(viewer.user.id)).toMatchObject({ status: "canceled" });
    advanceClock(2000);
    expect(await entitlementOf(viewer.user.id)).toBeNull();
  });
});
