import { useState } from "preact/hooks";
import { api } from "../api/client.ts";
import type { Plan, Subscription } from "../api/types.ts";
import { useSession } from "../api/use-session.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { date } from "../ui/format.ts";
import { PlanFacts } from "../ui/plan-facts.tsx";
import { useResource } from "../ui/use-resource.ts";

/** Plans, what each allows, and the viewer's subscription: choose, change, cancel. */
export function PlansPage() {
  const session = useSession();
  const plans = useResource((signal) => api<{ plans: Plan[] }>("/v1/plans", { auth: false, signal }), "plans");
  const subscription = useResource(
    (signal) =>
      session ? api<{ subscription: Subscription | null }>("/v1/subscription", { signal }) : Promise.resolve({ subscription: null }),
    session ? session.user.id : "signed-out",
  );
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const current = subscription.data?.subscription ?? null;
  const active = current?.status === "active" ? current : null;
  const planName = (id: string) => plans.data?.plans.find((plan) => plan.id === id)?.name ?? id;

  async function change(
    action: () => Promise<{ subscription: Subscription | null }>,
    pendingId: string,
    done: (s: Subscription | null) => string,
  ) {
    setPending(pendingId);
    setError(null);
    setMessage("");
    try {
      const result = await action();
      setMessage(done(result.subscription));
      subscription.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(null);
    }
  }
  const choose = (plan: Plan) =>
    change(
      () => api("/v1/subscription", { method: "POST", body: { planId: plan.id }, repeatable: true }),
      plan.id,
      () => (current ? `You are now on ${plan.name}.` : `Welcome to ${plan.name}. Enjoy watching!`),
    );
  const cancel = () =>
    change(
      () => api("/v1/subscription", { method: "DELETE", repeatable: true }),
      "cancel",
      (s) => `Canceled. You can keep watching until ${s ? date(s.currentPeriodEnd) : "the end of the period"}.`,
    );

  return (
    <section>
      <h1>Plans</h1>
      {session && current && plans.data && (
        <p class="lead">
          {current.status === "active"
            ? `Your plan: ${planName(current.planId)}, renews ${date(current.currentPeriodEnd)}.`
            : `Your ${planName(current.planId)} plan is canceled; you can watch until ${date(current.cancelAt ?? current.currentPeriodEnd)}.`}
        </p>
      )}
      {session && !current && subscription.data && plans.data && <p class="lead">You have no plan yet: choose one to start watching.</p>}
      <div role="status" class="status-line">
        {message}
      </div>
      <ErrorNotice error={error} task="change-plan" />
      <ErrorNotice
        error={plans.error ?? subscription.error}
        task="plans"
        onRetry={() => (plans.error ? plans.reload() : subscription.reload())}
      />
      {plans.loading && !plans.data && (
        <p class="visually-hidden" role="status">
          Loading plans…
        </p>
      )}
      <ul class="plans">
        {/* Everything appears at once, plans and the viewer's own, so nothing moves after it is drawn. */}
        {(subscription.data || subscription.error ? (plans.data?.plans ?? []) : []).map((plan) => {
          const isCurrent = active?.planId === plan.id;
          return (
            <li key={plan.id} class={`plan${isCurrent ? " plan-current" : ""}`}>
              <PlanFacts plan={plan} heading="h2" />
              {!session ? (
                <a class="button" href="/signup?next=/plans">
                  Sign up for {plan.name}
                </a>
              ) : isCurrent ? (
                <p class="badge">Your plan</p>
              ) : (
                <button type="button" class="button button-primary" disabled={pending !== null} onClick={() => choose(plan)}>
                  {active ? `Switch to ${plan.name}` : `Choose ${plan.name}`}
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {active && (
        <button type="button" class="button button-quiet" disabled={pending !== null} onClick={cancel}>
          Cancel subscription
        </button>
      )}
    </section>
  );
}
