import type { ComponentChildren } from "preact";
import { api } from "../api/client.ts";
import type { Home, VideoPage, VideoSummary } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { LoadMore, useInfinitePages } from "../ui/infinite-list.tsx";
import { useResource } from "../ui/use-resource.ts";
import { VideoCard } from "../ui/video-card.tsx";

/** A titled list of posters: one scrolling row, or a grid that grows. */
function Row(props: { id: string; title: string; videos: VideoSummary[]; layout: "row-items" | "grid"; children?: ComponentChildren }) {
  return (
    <section class="row" aria-labelledby={`row-${props.id}`} data-row={props.id}>
      <h2 id={`row-${props.id}`}>{props.title}</h2>
      <ul class={props.layout}>
        {props.videos.map((video) => (
          <li key={video.id}>
            <VideoCard video={video} />
          </li>
        ))}
      </ul>
      {props.children}
    </section>
  );
}

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
        <Row key={row.id} id={row.id} title={row.title} videos={row.items} layout="row-items" />
      ))}
      <Row id="all" title="All titles" videos={all.items} layout="grid">
        <LoadMore {...all} label="Show more titles" />
      </Row>
    </>
  );
}
