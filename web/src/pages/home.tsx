import { api } from "../api/client.ts";
import type { Home, VideoPage, VideoSummary } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { LoadMore, useInfinitePages } from "../ui/infinite-list.tsx";
import { useResource } from "../ui/use-resource.ts";
import { VideoCard } from "../ui/video-card.tsx";

/** The home rows (continue watching first, when there is any), then every title, more as the viewer scrolls. */
export function HomePage() {
  const home = useResource((signal) => api<Home>("/v1/home", { signal }), "home");
  const all = useInfinitePages<VideoSummary>(
    (cursor, signal) => api<VideoPage>(`/v1/videos?limit=12${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { signal }),
    "all",
  );
  return (
    <>
      <h1 class="visually-hidden">Home</h1>
      <ErrorNotice error={home.error} onRetry={home.reload} />
      {home.loading && !home.data && <p>Loading…</p>}
      {home.data && home.data.rows.length === 0 && (
        <p class="lead">
          Nothing to watch yet. Titles appear here as soon as they are ready. <a href="/plans">See the plans</a> meanwhile.
        </p>
      )}
      {home.data?.rows.map((row) => (
        <section key={row.id} class="row" aria-labelledby={`row-${row.id}`} data-row={row.id}>
          <h2 id={`row-${row.id}`}>{row.title}</h2>
          <ul class="row-items">
            {row.items.map((video) => (
              <li key={video.id}>
                <VideoCard video={video} />
              </li>
            ))}
          </ul>
        </section>
      ))}
      <section class="row" aria-labelledby="row-all" data-row="all">
        <h2 id="row-all">All titles</h2>
        <ul class="grid">
          {all.items.map((video) => (
            <li key={video.id}>
              <VideoCard video={video} />
            </li>
          ))}
        </ul>
        <LoadMore {...all} label="Show more titles" />
      </section>
    </>
  );
}
