import type { AdminVideo } from "../api/types.ts";
import { Field } from "../ui/field.tsx";

/** The closed set of ratings (schema/maturity/ratings.ts), in words. */
const maturityChoices = [
  ["all", "All ages"],
  ["7+", "7 and over"],
  ["13+", "13 and over"],
  ["16+", "16 and over"],
  ["18+", "Adults only (18 and over)"],
] as const;

export const videoFieldNames = ["title", "summary", "genres", "releaseYear", "cast", "maturityRating"];

/** A list typed as "a, b, c". */
const list = (value: string) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** The form's values as the API takes them (`releaseYear` a number, lists as arrays). */
export function videoBody(form: HTMLFormElement): Record<string, unknown> {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "");
  const year = text("releaseYear").trim();
  return {
    title: text("title"),
    summary: text("summary"),
    genres: list(text("genres")),
    // A number when it reads as one; otherwise as typed, so the API names what is wrong with it.
    releaseYear: /^\d+$/.test(year) ? Number(year) : year,
    cast: list(text("cast")),
    maturityRating: text("maturityRating"),
  };
}

/** The metadata fields of a title, for creating and editing it. */
/** `messages`: what to fix in each field (`fieldWords`). */
export function VideoFields({ video, messages }: { video?: AdminVideo; messages: Record<string, string> }) {
  return (
    <>
      <Field name="title" label="Title" message={messages.title}>
        {(attributes) => <input {...attributes} required maxLength={200} defaultValue={video?.title} />}
      </Field>
      <Field name="summary" label="Summary" message={messages.summary}>
        {(attributes) => <textarea {...attributes} required rows={4} maxLength={4000} defaultValue={video?.summary} />}
      </Field>
      <Field name="genres" label="Genres" hint="Separated by commas, like: drama, mystery" message={messages.genres}>
        {(attributes) => <input {...attributes} defaultValue={video?.genres.join(", ")} />}
      </Field>
      <Field name="releaseYear" label="Release year" message={messages.releaseYear}>
        {(attributes) => (
          <input {...attributes} inputMode="numeric" required defaultValue={String(video?.releaseYear ?? new Date().getFullYear())} />
        )}
      </Field>
      <Field name="cast" label="Cast" hint="Separated by commas" message={messages.cast}>
        {(attributes) => <input {...attributes} defaultValue={video?.cast.join(", ")} />}
      </Field>
      <Field
        name="maturityRating"
        label="Maturity rating"
        hint="The youngest age the title suits. Profiles with a lower limit (kids) never see it."
        message={messages.maturityRating}
      >
        {(attributes) => (
          <select {...attributes} defaultValue={video?.maturityRating ?? "18+"}>
            {maturityChoices.map(([value, words]) => (
              <option key={value} value={value}>
                {words}
              </option>
            ))}
          </select>
        )}
      </Field>
    </>
  );
}
