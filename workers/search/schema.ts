import { z } from "@hono/zod-openapi";
import { safeText } from "../platform/text.ts";
import { listVideosQuery, videoSummarySchema } from "../videos/schema.ts";

export const SEARCH_QUERY_MAX = 200;

export const searchQuery = z.object({
  q: safeText({ label: "A search", max: SEARCH_QUERY_MAX, normalize: "NFKC" })
    .pipe(
      z
        .string()
        .min(1, "Type something to search for: q cannot be empty.")
        .max(SEARCH_QUERY_MAX, `A search has at most ${SEARCH_QUERY_MAX} characters.`),
    )
    .openapi({
      param: { name: "q", in: "query" },
      type: "string",
      example: "stranger",
      description: "Words or the start of a word; typos are tolerated",
    }),
  limit: listVideosQuery.shape.limit,
  cursor: listVideosQuery.shape.cursor,
  genre: listVideosQuery.shape.genre,
});

export const searchResultSchema = videoSummarySchema
  .extend({ score: z.number().openapi({ description: "Relevance, higher first; only comparable within one search" }) })
  .openapi("SearchResult");

export const searchPageSchema = z
  .object({
    items: z.array(searchResultSchema),
    nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` (with the same q and genre) for the next page" }),
  })
  .openapi("SearchPage");

export type SearchPage = z.infer<typeof searchPageSchema>;

/** At most this many words of a query are searched; the rest is ignored. */
export const MAX_TERMS = 8;

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
