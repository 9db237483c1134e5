import type { Plan } from "../api/types.ts";
import { money, resolution } from "./format.ts";

/**
 * What a plan is, as the plans page and the landing page show it: its name, price a month, the
 * height it plays up to and its screens. The heading level follows the page's outline.
 *
 * @example
 * <PlanFacts plan={plan} heading="h3" />
 */
export function PlanFacts({ plan, heading: Heading }: { plan: Plan; heading: "h2" | "h3" }) {
  return (
    <>
      <Heading>{plan.name}</Heading>
      <p class="price">
        {money(plan.priceCents, plan.currency)} <span>a month</span>
      </p>
      <ul class="plan-features">
        <li>Up to {resolution(plan.maxHeight)}</li>
        <li>
          {plan.screens} {plan.screens === 1 ? "screen" : "screens"} at the same time
        </li>
      </ul>
    </>
  );
}
