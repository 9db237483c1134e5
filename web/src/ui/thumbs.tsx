import { useState } from "preact/hooks";
import { api } from "../api/client.ts";
import type { TitleState } from "../api/types.ts";
import { ErrorNotice } from "./error-notice.tsx";

type Rating = TitleState["rating"];

const thumbs = [
  { value: "up", label: "I like this" },
  { value: "down", label: "Not for me" },
] as const;

/**
 * Thumbs up and thumbs down for the title page: two toggles (`aria-pressed`); pressing the one that
 * is pressed takes the rating back. A pressed one shows a tick as well as its border (not colour alone). A live region says what was saved, for people who cannot see
 * the buttons change.
 */
export function Thumbs({ videoId, rating, onChange }: { videoId: string; rating: Rating; onChange: (rating: Rating) => void }) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [said, setSaid] = useState("");
  const press = async (pressed: "up" | "down") => {
    setPending(true);
    setError(null);
    const clearing = rating === pressed;
    try {
      const answer = await api<TitleState>(`/v1/videos/${encodeURIComponent(videoId)}/rating`, {
        method: clearing ? "DELETE" : "PUT",
        body: clearing ? undefined : { rating: pressed },
        repeatable: true,
      });
      onChange(answer.rating);
      setSaid(
        answer.rating === "up" ? "You liked this title." : answer.rating === "down" ? "You did not like this title." : "Rating removed.",
      );
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };
  return (
    <div class="thumbs">
      <fieldset class="thumbs-buttons">
        <legend class="visually-hidden">Rate this title</legend>
        {thumbs.map(({ value, label }) => (
          <button
            key={value}
            type="button"
            class="button"
            aria-pressed={rating === value}
            disabled={pending}
            onClick={() => press(value)}
            data-testid={`thumbs-${value}`}
          >
            {rating === value && <span aria-hidden="true">✓&nbsp;</span>}
            {label}
          </button>
        ))}
      </fieldset>
      <p class="visually-hidden" role="status">
        {said}
      </p>
      <ErrorNotice error={error} task="rate" />
    </div>
  );
}
