import { z } from "@hono/zod-openapi";
import { safeText } from "../platform/text.ts";
import { episodeRefSchema, listVideosQuery, videoSummarySchema } from "../videos/schema.ts";

export const SEARCH_QUERY_MAX = 200;

/** At most this many words of a query are searched; the rest is ignored. */
export const MAX_TERMS = 8;

/**
 * A query needs at least one word this long, and only words this long match as prefixes. A
 * 1-2 letter prefix is the start of a large share of all words (every "b..."), so it would match
 * most of the catalog and rank it row by row; a search-as-you-type client shows nothing for it
 * yet, and it gets a 400 saying to keep typing. Inside a longer query, a short word is matched as
 * a whole word ("x men", "up in the air"), and never answers a search on its own.
 */
export const MIN_SEARCH_TERM = 3;

/** Whether a query has a word search can start from (see `MIN_SEARCH_TERM`). */
export function hasSearchableTerm(q: string): boolean {
  return searchTerms(q).some((term) => term.length >= MIN_SEARCH_TERM);
}

/**
 * The words of a query: letters and digits only, lower-cased. Everything else (tsquery operators,
 * quotes, backslashes, SQL) separates words and is otherwise ignored, so no input can change the
 * shape of the query that runs.
 */
export function searchTerms(q: string): string[] {
  const words = q
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0)
    .map((word) => word.slice(0, 40));
  return [...new Set(words)].slice(0, MAX_TERMS);
}

export const searchQuery = z.object({
  q: safeText({ label: "A search", max: SEARCH_QUERY_MAX, normalize: "NFKC" })
    .pipe(
      z
        .string()
        .min(1, "Type something to search for: q cannot be empty.")
        .max(SEARCH_QUERY_MAX, `A search has at most ${SEARCH_QUERY_MAX} characters.`)
        // Empty and over-long queries already have their message.
        .refine((value) => value.length === 0 || value.length > SEARCH_QUERY_MAX || hasSearchableTerm(value), {
          message: `Keep typing: a search needs a word of at least ${MIN_SEARCH_TERM} letters or digits. Shorter words count only as whole words next to a longer one ("x men", "up in the air").`,
        }),
    )
    .openapi({
      param: { name: "q", in: "query" },
      type: "string",
      example: "stranger",
      description:
        "Words or the start of a word; typos are tolerated, and a title that misses one word still comes after those that match all. " +
        `At least one word of ${MIN_SEARCH_TERM} letters or digits: 1-2 letter words match only as whole words, next to a longer one.`,
    }),
  limit: listVideosQuery.shape.limit,
  cursor: listVideosQuery.shape.cursor,
  genre: listVideosQuery.shape.genre,
});

export const searchResultSchema = videoSummarySchema
  .extend({
    score: z.number().openapi({
      description:
        "Relevance, higher first; only comparable within one search. Results that match every word come before those that miss one.",
    }),
    episode: episodeRefSchema.nullable().openapi({ description: "The series, season and number of an episode; null for a film" }),
  })
  .openapi("SearchResult");

/** A series whose title or summary has every word of the search (the last ones as prefixes). */
export const seriesHitSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    summary: z.string(),
    genres: z.array(z.string()),
    maturityRating: z.string().nullable(),
    posterUrl: z.string().nullable().openapi({ description: "Its first listed episode's poster" }),
  })
  .openapi("SeriesHit");

export const searchPageSchema = z
  .object({
    series: z.array(seriesHitSchema).openapi({
      description: `Series matching every word by title or summary, best first, ${"at most 5"}; on the first page only (empty on the next ones)`,
    }),
    items: z.array(searchResultSchema),
    nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` (with the same q and genre) for the next page" }),
  })
  .openapi("SearchPage");

export type SearchPage = z.infer<typeof searchPageSchema>;

export type SeriesHit = z.infer<typeof seriesHitSchema>;
