import type { ComponentChildren } from "preact";
import type { VideoSummary } from "../api/types.ts";
import { VideoCard } from "./video-card.tsx";

/** The card links of the list that holds `element`, and of every list of titles on the page. */
function cardsOf(list: Element | null): HTMLAnchorElement[] {
  return [...(list?.querySelectorAll<HTMLAnchorElement>(":scope > li > a.card") ?? [])];
}

/** How many cards sit on one line of a wrapping grid (the ones level with the first). */
function perLine(cards: HTMLElement[]): number {
  const top = cards[0]?.offsetTop;
  const count = cards.filter((card) => card.offsetTop === top).length;
  return Math.max(1, count);
}

/**
 * Arrow keys between cards, as on a TV: ←/→ along a row, ↑/↓ to the card below or above (the
 * next row's, or the grid's next line), Home/End to a row's ends. Tab still leaves the row.
 */
function onArrowKey(event: KeyboardEvent) {
  const target = event.target as HTMLElement;
  const list = target.closest("ul.row-items, ul.grid");
  const cards = cardsOf(list);
  const index = cards.indexOf(target as HTMLAnchorElement);
  if (index < 0 || event.altKey || event.ctrlKey || event.metaKey) return;
  const lists = [...document.querySelectorAll("ul.row-items, ul.grid")];
  const grid = list?.classList.contains("grid");
  const step = grid ? perLine(cards) : 0;
  let next: HTMLElement | undefined;
  if (event.key === "ArrowRight") next = cards[index + 1];
  else if (event.key === "ArrowLeft") next = cards[index - 1];
  else if (event.key === "Home") next = cards[0];
  else if (event.key === "End") next = cards.at(-1);
  else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const down = event.key === "ArrowDown";
    if (grid && cards[index + (down ? step : -step)]) next = cards[index + (down ? step : -step)];
    else {
      const other = cardsOf(lists[lists.indexOf(list as Element) + (down ? 1 : -1)] ?? null);
      next = other[Math.min(grid && !down ? other.length - 1 : index, other.length - 1)];
    }
  } else return;
  if (!next) return;
  event.preventDefault();
  next.focus();
  next.scrollIntoView({ block: "nearest", inline: "nearest" });
}

/**
 * A titled list of posters: one scrolling row, or a grid that grows. A skip link (shown when
 * focused) jumps past it, so Tab does not have to walk every card of every row.
 */
export function TitleRow(props: {
  id: string;
  title: string;
  videos: VideoSummary[];
  layout: "row-items" | "grid";
  /** Continue watching: cards resume, with how much of each is watched (0–1, or null when unknown). */
  watched?: (id: string) => number | null;
  /** The first row's posters load at once (they are on screen). */
  eager?: boolean;
  /** A control under each card (the My List toggle), beside the card's link rather than inside it. */
  action?: (video: VideoSummary) => ComponentChildren;
  children?: ComponentChildren;
}) {
  const end = `row-end-${props.id.replace(/[^a-z0-9-]/gi, "-")}`;
  return (
    <section class="row" aria-labelledby={`row-${props.id}`} data-row={props.id}>
      <h2 id={`row-${props.id}`}>{props.title}</h2>
      {props.videos.length > 1 && (
        <a
          class="skip-row"
          href={`#${end}`}
          onClick={(event) => {
            event.preventDefault();
            document.getElementById(end)?.focus();
          }}
        >
          Skip “{props.title}”
        </a>
      )}
      <ul class={props.layout} onKeyDown={onArrowKey}>
        {props.videos.map((video, index) => (
          <li key={video.id}>
            <VideoCard video={video} watched={props.watched?.(video.id)} eager={props.eager && index < 6} />
            {props.action?.(video)}
          </li>
        ))}
      </ul>
      <span id={end} tabIndex={-1} class="row-end" />
      {props.children}
    </section>
  );
}
