import { describe, expect, it } from "vitest";
import { brokenKv, callWithEnv } from "../test/catalog.ts";
import { call } from "../test/helpers.ts";

describe("GET /v1/plans", () => {
  it("lists the seeded plans, cheapest first, without a token", async () => {
    const response = await call("/v1/plans");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toContain("public");
    const { plans } = (await response.json()) as { plans: { id: string; priceCents: number; currency: string }[] };
    expect(plans).toEqual([
      expect.objectContaining({ id: "basic", name: "Basic", maxHeight: 480, screens: 1 }),
      expect.objectContaining({ id: "standard", name: "Standard", maxHeight: 1080, screens: 2 }),
      expect.objectContaining({ id: "premium", name: "Premium", maxHeight: 2160, screens: 4 }),
    ]);
    for (const plan of plans) {
      expect(plan.priceCents).toBeGreaterThan(0);
      expect(plan.currency).toMatch(/^[A-Z]{3}$/);
    }
    expect(plans.map((plan) => plan.priceCents)).toEqual([...plans.map((plan) => plan.priceCents)].sort((a, b) => a - b));
  });

  it("still answers from Postgres when KV is down", async () => {
    const response = await callWithEnv({ CACHE: brokenKv }, "/v1/plans");
    expect(response.status).toBe(200);
    expect(((await response.json()) as { plans: unknown[] }).plans).toHaveLength(3);
  });

  it("answers 405 with Allow for a write", async () => {
    const response = await call("/v1/plans", { method: "POST", json: {} });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toContain("GET");
  });
});
