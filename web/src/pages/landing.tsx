import { api } from "../api/client.ts";
import type { Plan, Preview } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { PlanFacts } from "../ui/plan-facts.tsx";
import { Poster } from "../ui/poster.tsx";
import { useResource } from "../ui/use-resource.ts";
import { CARD_POSTER_SIZES } from "../ui/video-card.tsx";

/**
 * What a signed-out visitor sees at `/`: what Reelstream is, the plans, and a preview of the
 * newest titles (`GET /v1/plans` and `GET /v1/preview`, both public and cached at the edge).
 * Both sections appear together, below a header that is there at once, so nothing moves.
 */
export function LandingPage() {
  const content = useResource(async (signal) => {
    const [plans, preview] = await Promise.all([
      api<{ plans: Plan[] }>("/v1/plans", { auth: false, signal }),
      api<Preview>("/v1/preview", { auth: false, signal }),
    ]);
    return { plans: plans.plans, titles: preview.items };
  }, "landing");
  return (
    <>
      <section class="hero" aria-labelledby="hero-heading">
        <h1 id="hero-heading">Films and series, streamed.</h1>
        <p class="lead">Watch on any screen, pick up where you left off, cancel whenever you like.</p>
        <p class="actions">
          <a class="button button-primary" href="/signup">
            Create your account
          </a>
          <a class="button" href="/signin">
            Sign in
          </a>
        </p>
      </section>
      <ErrorNotice error={content.error} task="browse" onRetry={content.reload} />
      {content.data && (
        <>
          <section class="row" aria-labelledby="landing-titles">
            <h2 id="landing-titles">New on Reelstream</h2>
            {content.data.titles.length === 0 ? (
              <p>The first titles are on their way.</p>
            ) : (
              <ul class="grid">
                {content.data.titles.map((video) => (
                  <li key={video.id}>
                    <a class="card" href={`/title/${video.id}`}>
                      <span class="card-poster">
                        <Poster video={video} class="poster" sizes={CARD_POSTER_SIZES} />
                      </span>
                      <span class="card-title">{video.title}</span>
                      <span class="card-meta">{[video.releaseYear, ...video.genres.slice(0, 2)].join(" · ")}</span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="row" aria-labelledby="landing-plans">
            <h2 id="landing-plans">Plans</h2>
            <ul class="plans">
              {content.data.plans.map((plan) => (
                <li key={plan.id} class="plan">
                  <PlanFacts plan={plan} heading="h3" />
                  <a class="button" href="/signup?next=/plans">
                    Start with {plan.name}
                  </a>
                </li>
              ))}
            </ul>
          </section>
        </>
      )}
    </>
  );
}
