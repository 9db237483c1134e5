import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import type { SearchPage as Results, VideoSummary } from "../api/types.ts";
import { runtime } from "../ui/format.ts";
import { LoadMore, useInfinitePages } from "../ui/infinite-list.tsx";
import { Poster } from "../ui/poster.tsx";

const DEBOUNCE_MS = 200;
/** The API answers a query only once it has a word of 3 letters or digits (shorter ones would match most of the catalog). */
const searchable = (q: string) => /[\p{L}\p{N}]{3}/u.test(q);

/**
 * Search as you type. From the keyboard: "/" focuses the box, ↓ goes into the results, ↑/↓ move
 * between them, Enter opens one, Escape goes back to the box. The query is kept in the address.
 */
export function SearchPage() {
  const { query, route } = useLocation();
  const [text, setText] = useState(query.q ?? "");
  const [q, setQ] = useState((query.q ?? "").trim());
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const section = useRef<HTMLElement>(null);

  // The page is for typing: the box has focus when it opens.
  useEffect(() => input.current?.focus(), []);

  useEffect(() => {
    const timer = setTimeout(() => {
      const next = text.trim();
      setQ(next);
      route(next ? `/search?q=${encodeURIComponent(next)}` : "/search", true);
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, route]);

  const results = useInfinitePages<VideoSummary>(
    (cursor, signal) =>
      searchable(q)
        ? api<Results>(`/v1/search?q=${encodeURIComponent(q)}&limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { signal })
        : Promise.resolve({ items: [], nextCursor: null }),
    q,
  );

  useEffect(() => {
    const element = section.current;
    element?.addEventListener("keydown", onKeyDown);
    return () => element?.removeEventListener("keydown", onKeyDown);
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    const links = [...(list.current?.querySelectorAll<HTMLAnchorElement>("a") ?? [])];
    const index = links.indexOf(document.activeElement as HTMLAnchorElement);
    if (event.key === "ArrowDown") {
      event.preventDefault();
      links[Math.min(index + 1, links.length - 1)]?.focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (index <= 0) input.current?.focus();
      else links[index - 1]?.focus();
    } else if (event.key === "Escape") {
      input.current?.focus();
    }
  }

  const summary = !q
    ? "Type to search titles, people and genres."
    : !searchable(q)
      ? "Keep typing: a search starts from a word of at least 3 letters."
      : results.loading && results.items.length === 0
        ? "Searching…"
        : results.error
          ? ""
          : `${results.items.length}${results.done ? "" : "+"} ${results.items.length === 1 ? "title" : "titles"} for “${q}”`;

  return (
    <section ref={section}>
      <h1>Search</h1>
      <search>
        <label for="search-input" class="visually-hidden">
          Search titles, people and genres
        </label>
        <input
          id="search-input"
          ref={input}
          type="search"
          class="search-input"
          placeholder="Titles, people, genres"
          value={text}
          autocomplete="off"
          aria-controls="search-results"
          aria-describedby="search-summary"
          maxLength={200}
          onInput={(event) => setText(event.currentTarget.value)}
        />
      </search>
      <p id="search-summary" role="status" class="status-line">
        {summary}
      </p>
      <ul id="search-results" ref={list} class="results" aria-label="Results">
        {results.items.map((video) => (
          <li key={video.id}>
            <a href={`/title/${video.id}`} class="result">
              <Poster video={video} class="result-poster" sizes="8rem" />
              <span>
                <span class="card-title">{video.title}</span>
                <span class="card-meta">
                  {video.releaseYear}
                  {video.genres.length > 0 && ` · ${video.genres.join(", ")}`}
                  {video.durationSeconds !== null && ` · ${runtime(video.durationSeconds)}`}
                </span>
              </span>
            </a>
          </li>
        ))}
      </ul>
      {q && <LoadMore {...results} task="search" label="More results" />}
    </section>
  );
}
