import { z } from "@hono/zod-openapi";
import { subscriptionStatuses } from "../../schema/index.ts";
import { safeText } from "../platform/text.ts";

export const planSchema = z
  .object({
    id: z.string().openapi({ example: "standard" }),
    name: z.string().openapi({ example: "Standard" }),
    priceCents: z.number().int().openapi({ example: 1399, description: "Price of one month, in the currency's minor unit" }),
    currency: z.string().openapi({ example: "USD", description: "ISO 4217" }),
    maxHeight: z.number().int().openapi({ example: 1080, description: "Tallest rendition this plan plays, in pixels" }),
    screens: z.number().int().openapi({ example: 2, description: "Streams at the same time" }),
  })
  .openapi("Plan");

export type PublicPlan = z.infer<typeof planSchema>;

export const plansResponse = z.object({ plans: z.array(planSchema) }).openapi("Plans");

export const subscriptionSchema = z
  .object({
    planId: z.string().openapi({ example: "standard" }),
    status: z.enum(subscriptionStatuses).openapi({ description: "`canceled` keeps its entitlement until `currentPeriodEnd`" }),
    currentPeriodEnd: z.string().openapi({ format: "date-time" }),
    cancelAt: z.string().nullable().openapi({ format: "date-time", description: "When a canceled subscription ends; null while active" }),
  })
  .openapi("Subscription");

export type PublicSubscription = z.infer<typeof subscriptionSchema>;

export const subscriptionResponse = z.object({ subscription: subscriptionSchema.nullable() }).openapi("SubscriptionEnvelope");

export const subscribeBody = z
  .strictObject({
    planId: safeText({ label: "A plan id", max: 64 })
      .refine((planId) => planId.length > 0, "Choose a plan: an id from GET /v1/plans.")
      .openapi({ example: "premium", description: "An id from GET /v1/plans" }),
  })
  .openapi("SubscribeRequest");
