import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client.ts";
import { ApiProblem } from "../api/problem.ts";
import type { Progress, TitleState, Video, VideoSummary } from "../api/types.ts";
import { useSession } from "../api/use-session.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { clock, resolution, runtime } from "../ui/format.ts";
import { MyListButton } from "../ui/my-list-button.tsx";
import { Poster } from "../ui/poster.tsx";
import { Thumbs } from "../ui/thumbs.tsx";
import { TitleRow } from "../ui/title-row.tsx";
import { useResource } from "../ui/use-resource.ts";

/** Where this viewer left off, or null when never watched (404) or finished. */
async function resumePoint(id: string, signal: AbortSignal): Promise<number | null> {
  try {
    const progress = await api<Progress>(`/v1/videos/${id}/progress`, { signal });
    return progress.finished || progress.positionSeconds < 1 ? null : progress.positionSeconds;
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 404) return null;
    throw error;
  }
}

const markPlay = () => performance.mark("reelstream:play-pressed");

export function TitlePage({ id }: { id: string }) {
  const session = useSession();
  const title = useResource(async (signal) => {
    const [{ video, moreLikeThis }, resumeAt, state] = await Promise.all([
      api<{ video: Video; moreLikeThis?: VideoSummary[] }>(`/v1/videos/${encodeURIComponent(id)}`, { signal }),
      resumePoint(encodeURIComponent(id), signal),
      api<TitleState>(`/v1/videos/${encodeURIComponent(id)}/my-state`, { signal }),
    ]);
    return { video, resumeAt, state, moreLikeThis: moreLikeThis ?? [] };
  }, id);
  // The profile's choices as the page loaded them, then as the buttons changed them.
  const [choices, setChoices] = useState<TitleState | null>(null);
  useEffect(() => setChoices(title.data?.state ?? null), [title.data]);
  if (title.error) return <ErrorNotice error={title.error} task="title" onRetry={title.reload} />;
  if (!title.data) {
    return (
      <p class="visually-hidden" role="status">
        Loading…
      </p>
    );
  }
  const { video, resumeAt, moreLikeThis } = title.data;
  const heights = [...new Set(video.renditions.map((rendition) => rendition.height))].sort((a, b) => b - a);
  const watched = resumeAt !== null && video.durationSeconds ? Math.min(1, resumeAt / video.durationSeconds) : null;
  return (
    <>
      <article class="title-page">
        <Poster video={video} class="title-poster" sizes="(max-width: 700px) 100vw, 28rem" alt={`Poster of ${video.title}`} eager />
        <div class="title-body">
          <h1>{video.title}</h1>
          <p class="card-meta">
            {[video.releaseYear, video.maturityRating, runtime(video.durationSeconds), video.genres.join(", ")].filter(Boolean).join(" · ")}
          </p>
          {watched !== null && (
            <div class="title-progress">
              <span class="card-progress" aria-hidden="true">
                <span style={{ width: `${Math.round(watched * 100)}%` }} />
              </span>
              <span class="card-meta">{Math.round(watched * 100)}% watched</span>
            </div>
          )}
          <div class="title-actions">
            <a class="button button-primary" href={`/watch/${video.id}`} onClick={markPlay} data-testid="play">
              {resumeAt !== null ? `Resume from ${clock(resumeAt)}` : "Play"}
            </a>
            {resumeAt !== null && (
              <a class="button" href={`/watch/${video.id}?from=start`} onClick={markPlay}>
                Start over
              </a>
            )}
            {choices && (
              <MyListButton video={video} listed={choices.inMyList} onChange={(inMyList) => setChoices({ ...choices, inMyList })} />
            )}
            {session?.user.role === "admin" && (
              <a class="button" href={`/admin/videos/${video.id}`}>
                Manage
              </a>
            )}
          </div>
          {choices && <Thumbs videoId={video.id} rating={choices.rating} onChange={(rating) => setChoices({ ...choices, rating })} />}
          <p>{video.summary}</p>
          {video.cast.length > 0 && (
            <p>
              <strong>Cast:</strong> {video.cast.join(", ")}
            </p>
          )}
          {heights.length > 0 && (
            <p>
              <strong>Available in:</strong> {heights.map(resolution).join(", ")} (your plan decides the highest you get)
            </p>
          )}
        </div>
      </article>
      {/* Titles like this one, computed from genres, cast and words in the background; absent until then. */}
      {moreLikeThis.length > 0 && <TitleRow id="more-like-this" title="More like this" videos={moreLikeThis} layout="row-items" />}
    </>
  );
}
