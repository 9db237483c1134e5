import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client.ts";
import type { Home, ProgressList, VideoPage, VideoSummary } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { LoadMore, useInfinitePages } from "../ui/infinite-list.tsx";
import { MyListButton } from "../ui/my-list-button.tsx";
import { TitleRow } from "../ui/title-row.tsx";
import { useResource } from "../ui/use-resource.ts";

/** Rows held in place while the home page loads, so nothing below them moves when they arrive. */
function RowPlaceholders({ count }: { count: number }) {
  return (
    <div aria-hidden="true">
      {Array.from({ length: count }, (_, index) => (
        <div key={index} class="row row-placeholder" />
      ))}
    </div>
  );
}

/**
 * The home rows (continue watching first, when there is any, then My List), then every title, more
 * as the viewer scrolls. Every card has a My List toggle; the My List row follows it at once. Continue-watching cards resume in the player, with a bar of how much is watched
 * (`GET /v1/progress`, asked beside the home page: the page itself stays edge-only).
 */
export function HomePage() {
  const home = useResource((signal) => api<Home>("/v1/home", { signal }), "home");
  const progress = useResource((signal) => api<ProgressList>("/v1/progress", { signal }), "progress");
  const all = useInfinitePages<VideoSummary>(
    (cursor, signal) => api<VideoPage>(`/v1/videos?limit=12${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { signal }),
    "all",
  );
  // My List as the home page gave it, then as this page changed it.
  const [myList, setMyList] = useState<VideoSummary[]>([]);
  useEffect(() => setMyList(home.data?.rows.find((row) => row.id === "my-list")?.items ?? []), [home.data]);
  const listed = new Set(myList.map((video) => video.id));
  const toggle = (video: VideoSummary) => (nowListed: boolean) =>
    setMyList((items) =>
      nowListed ? [video, ...items.filter((item) => item.id !== video.id)] : items.filter((item) => item.id !== video.id),
    );
  const action = (video: VideoSummary) => (
    <MyListButton video={video} listed={listed.has(video.id)} onChange={toggle(video)} withTitle class="card-action" />
  );
  const rows = (home.data?.rows ?? []).filter((row) => row.id !== "my-list");
  const watchingFirst = rows[0]?.id === "continue-watching" ? 1 : 0;
  if (myList.length > 0) rows.splice(watchingFirst, 0, { id: "my-list", title: "My List", items: myList });
  const watched = (id: string) => {
    const item = progress.data?.items.find((entry) => entry.videoId === id);
    return item?.durationSeconds ? item.positionSeconds / item.durationSeconds : null;
  };
  return (
    <>
      <h1 class="visually-hidden">Home</h1>
      <ErrorNotice error={home.error} task="browse" onRetry={home.reload} />
      {!home.data && !home.error && (
        <p class="visually-hidden" role="status">
          Loading…
        </p>
      )}
      {!home.data && !home.error && <RowPlaceholders count={3} />}
      {home.data && home.data.rows.length === 0 && (
        <p class="lead">
          Nothing to watch yet. Titles appear here as soon as they are ready. <a href="/plans">See the plans</a> meanwhile.
        </p>
      )}
      {home.data &&
        rows.map((row, index) => (
          <TitleRow
            key={row.id}
            id={row.id}
            title={row.title}
            videos={row.items}
            layout="row-items"
            eager={index === 0}
            watched={row.id === "continue-watching" ? watched : undefined}
            action={action}
          />
        ))}
      {home.data && (
        <TitleRow id="all" title="All titles" videos={all.items} layout="grid" action={action}>
          <LoadMore {...all} task="browse" label="Show more titles" />
        </TitleRow>
      )}
    </>
  );
}
