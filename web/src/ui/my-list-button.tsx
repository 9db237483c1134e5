import { useState } from "preact/hooks";
import { api } from "../api/client.ts";
import type { MyListChange, VideoSummary } from "../api/types.ts";
import { ErrorNotice } from "./error-notice.tsx";

/**
 * A toggle for one title on the profile's My List (`aria-pressed`: on the list or not). The name
 * stays the same whichever the state, as a toggle's should; on a card it names the title, since a
 * row holds many. Adding again or removing again changes nothing on the server, so a press is
 * asked again by itself after a 503 with `Retry-After`.
 */
export function MyListButton({
  video,
  listed,
  onChange,
  withTitle,
  class: className,
}: {
  video: Pick<VideoSummary, "id" | "title">;
  listed: boolean;
  onChange: (listed: boolean) => void;
  /** Name the title (cards): "My List: <title>". */
  withTitle?: boolean;
  class?: string;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const toggle = async () => {
    setPending(true);
    setError(null);
    try {
      const answer = await api<MyListChange>(`/v1/my-list/${encodeURIComponent(video.id)}`, {
        method: listed ? "DELETE" : "PUT",
        repeatable: true,
      });
      onChange(answer.inMyList);
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class={`button my-list-button ${className ?? ""}`}
        // On a card the name says which title: "My List: <title>" (the visible words come first, as
        // speech input expects). A hidden span would do it too, but in a scrolling row it is placed
        // outside the row and widens the page.
        aria-label={withTitle ? `My List: ${video.title}` : undefined}
        aria-pressed={listed}
        aria-busy={pending}
        disabled={pending}
        onClick={toggle}
        data-testid="my-list"
      >
        <span aria-hidden="true">{listed ? "✓\u00a0" : "+\u00a0"}</span>
        My List
      </button>
      <ErrorNotice error={error} task="my-list" />
    </>
  );
}
