import type { AlongRead } from "../platform/cache.ts";
import type { Services } from "../platform/services.ts";
import type { HomeRow, VideoSummary } from "../videos/index.ts";
import { type RecommendedRowCopy, recommendedRowEntry } from "./cache-keys.ts";

/** "Top 10 in Germany": the country's English name, or its code where the runtime has no name for it. */
export function countryName(country: string): string {
  try {
    return new Intl.DisplayNames(["en"], { type: "region" }).of(country) ?? country;
  } catch {
    return country;
  }
}

/** The row's items, or none when KV has no copy (a new deploy, before the cron's first run) or could not answer. */
async function itemsOf(read: AlongRead<RecommendedRowCopy>): Promise<VideoSummary[]> {
  const result = await read.result();
  return result.ok ? (result.value?.items ?? []) : [];
}

/**
 * The home page's rows that recommend (the videos service's `RecommendedRowsReader`). "Trending
 * now" and "Top 10 in <country>" are read along with the page's first KV call; "Because you
 * watched X" needs X, the viewer's most recent title from continue-watching, so it is one more KV
 * read of one key, made only for a viewer who has one. A row KV lacks is left out.
 *
 * @example
 * const recommended = readRecommendedRows(services, { country: "DE" });
 * const shared = await sharedHomeRows(services); // reads the two rows along
 * const rows = [...(await recommended.rows()), ...(await recommended.because(lastWatched))];
 */
export function readRecommendedRows(
  services: Services,
  viewer: { country: string | null },
): { rows(): Promise<HomeRow[]>; because(title: { id: string; title: string } | undefined): Promise<HomeRow[]> } {
  const trending = services.cache.readAlong(recommendedRowEntry("trending", ""));
  const top = viewer.country ? services.cache.readAlong(recommendedRowEntry("top10", viewer.country)) : undefined;
  return {
    async rows() {
      const rows: HomeRow[] = [{ id: "trending", title: "Trending now", items: await itemsOf(trending) }];
      if (top && viewer.country) {
        rows.push({ id: `top10:${viewer.country}`, title: `Top 10 in ${countryName(viewer.country)}`, items: await itemsOf(top) });
      }
      return rows.filter((row) => row.items.length > 0);
    },
    async because(title) {
      if (!title) return [];
      const copy = await services.cache.get(recommendedRowEntry("because", title.id));
      const items = copy?.items ?? [];
      return items.length > 0 ? [{ id: `because:${title.id}`, title: `Because you watched ${title.title}`, items }] : [];
    },
  };
}

/**
 * A title page's "More like this", read along with the title's document (one KV call for both).
 * Empty when KV has no row for it yet.
 */
export function readMoreLikeThis(services: Services, videoId: string): { items(): Promise<VideoSummary[]> } {
  const like = services.cache.readAlong(recommendedRowEntry("like", videoId));
  return { items: () => itemsOf(like) };
}
