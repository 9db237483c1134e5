import type { VideoSummary } from "../api/types.ts";

/**
 * A title's poster in the size the layout needs: the transcoder's widths (320, 640, 1280) as
 * `srcset`, with `sizes` saying how wide it is drawn, so a 208-pixel card loads the 320 (or, at
 * twice the pixel density, the 640) and not the 1280. `width`/`height` reserve its 16:9 box
 * before it loads (no layout shift).
 */
export function Poster({
  video,
  sizes,
  class: className,
  alt = "",
  eager = false,
}: {
  video: Pick<VideoSummary, "posterUrl" | "posters" | "title">;
  sizes: string;
  class: string;
  alt?: string;
  eager?: boolean;
}) {
  const posters = video.posters ?? [];
  if (!video.posterUrl && posters.length === 0) {
    return (
      <span class={`${className} poster-empty`} aria-hidden="true">
        {video.title.slice(0, 1)}
      </span>
    );
  }
  const srcset = posters.map((poster) => `${poster.url} ${poster.width}w`).join(", ");
  return (
    <img
      class={className}
      src={posters[0]?.url ?? video.posterUrl ?? ""}
      srcset={srcset || undefined}
      sizes={srcset ? sizes : undefined}
      width={16}
      height={9}
      alt={alt}
      loading={eager ? "eager" : "lazy"}
      decoding="async"
    />
  );
}
