import type { VideoSummary } from "../api/types.ts";
import { runtime } from "./format.ts";

/** A poster that links to the title page; the text beside it names the title, so the image is decorative. */
export function VideoCard({ video }: { video: VideoSummary }) {
  return (
    <a class="card" href={`/title/${video.id}`}>
      {video.posterUrl ? (
        <img class="poster" src={video.posterUrl} alt="" loading="lazy" decoding="async" />
      ) : (
        <span class="poster poster-empty" aria-hidden="true">
          {video.title.slice(0, 1)}
        </span>
      )}
      <span class="card-title">{video.title}</span>
      <span class="card-meta">
        {video.releaseYear}
        {video.durationSeconds !== null && ` · ${runtime(video.durationSeconds)}`}
      </span>
    </a>
  );
}
