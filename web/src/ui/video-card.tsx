import type { VideoSummary } from "../api/types.ts";
import { runtime } from "./format.ts";
import { Poster } from "./poster.tsx";

/** Cards are drawn at most 13rem (208 px) wide in rows and grids: the 320 poster, or the 640 on a dense screen. */
export const CARD_POSTER_SIZES = "(max-width: 480px) 45vw, 13rem";

/**
 * A poster that links to the title page, or, with `watched` (continue watching), straight back
 * into the player where the viewer stopped, with a bar of how much is watched. The text beside it
 * names the title, so the image is decorative.
 */
export function VideoCard({ video, watched, eager }: { video: VideoSummary; watched?: number | null; eager?: boolean }) {
  const resuming = watched !== undefined;
  const percent = watched ? Math.round(Math.min(1, Math.max(0, watched)) * 100) : 0;
  return (
    <a class="card" href={resuming ? `/watch/${video.id}` : `/title/${video.id}`}>
      <span class="card-poster">
        <Poster video={video} class="poster" sizes={CARD_POSTER_SIZES} eager={eager} />
        {resuming && (
          <span class="card-progress" aria-hidden="true">
            <span style={{ width: `${percent}%` }} />
          </span>
        )}
      </span>
      <span class="card-title">{video.title}</span>
      <span class="card-meta">
        {resuming ? (
          <>Resume{watched ? ` · ${percent}% watched` : ""}</>
        ) : (
          <>
            {video.releaseYear}
            {video.durationSeconds !== null && ` · ${runtime(video.durationSeconds)}`}
          </>
        )}
      </span>
    </a>
  );
}
