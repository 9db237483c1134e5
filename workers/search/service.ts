import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { searchWords, type Video, videos } from "../../schema/index.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { cursorCodec } from "../platform/cursor.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { catalogReadDb, toVideoSummary } from "../videos/index.ts";
import { type SearchPage, searchTerms } from "./schema.ts";

/** Ranking weights of the tsvector's labels {D, C, B, A}: summary, genres, cast, title. */
const RANK_WEIGHTS = "{0.1, 0.25, 0.5, 1.0}";

const searchCursorPayload = z.object({
  /** Score of the last item, as the decimal string Postgres returned (exact, no float rounding). */
  s: z.string().regex(/^-?\d+(\.\d+)?$/),
  i: z.string().max(64),
  /** Which search the cursor belongs to: a cursor of another query or genre is refused. */
  h: z.string().length(16),
});

export interface SearchStatementInput {
  terms: string[];
  text: string;
  genre?: string;
  limit: number;
  after?: { score: string; id: string };
}

interface RankedRow {
  video: Video;
  score: string;
}

/**
 * One statement:
 * 1. a term that is not a word of the catalog's dictionary (`search_words`) gets up to three
 *    spelling corrections from it: words sharing trigrams with it (`%`) or its first letter, within
 *    an edit distance of 1 (terms of 4-5 letters) or 2 (6 and more); shorter terms are taken as
 *    typed. The steps are materialised CTEs, so each runs once;
 * 2. per term, a tsquery ORs its English stem, the term as a prefix (`term:*`, search-as-you-type)
 *    and its corrections; the terms are ANDed;
 * 3. candidates match it through the GIN index on the weighted document (`@@`; the tsquery is an
 *    InitPlan, so the index can use it). The score adds the weighted full-text rank (title A >
 *    cast B > genres C > summary D), the title's trigram word similarity (title hits first) and
 *    the rest's; ties break on id, which keeps the order total for keyset pagination.
 * Terms hold only letters and digits (see `searchTerms`) and are quoted as tsquery literals, so
 * no input changes the query's shape.
 */
export function searchStatement(query: SearchStatementInput): SQL {
  // A Postgres array literal; terms hold no quotes, commas or braces, and quoting keeps `null` a word.
  const terms = sql`${`{${query.terms.map((term) => `"${term}"`).join(",")}}`}::text[]`;
  // `(select tsq from q)` is an InitPlan: evaluated once, then usable as an index condition.
  const tsq = sql`(select tsq from q)`;
  const score = sql`round((
      ts_rank(${RANK_WEIGHTS}::float4[], ${videos.searchDocument}, ${tsq}) * 4
      + word_similarity(${query.text}, lower(${videos.title})) * 2
      + word_similarity(${query.text}, ${videos.searchText}) * 0.5
    )::numeric, 6)`;
  const statement = sql`
    with terms as (
      select term, ord from unnest(${terms}) with ordinality as t(term, ord)
    ), corrected as materialized (
      select ord, term, coalesce((
        select string_agg(' | ' || quote_literal(w.word), '' order by levenshtein(w.word, term), w.word)
        from (
          select word from ${searchWords}
          -- A term that is a word of the catalog is taken as typed: no correction needed.
          where length(term) >= 4 and word <> term
            and not exists (select 1 from ${searchWords} as known where known.word = term)
            and (word % term or left(word, 1) = left(term, 1))
            and abs(length(word) - length(term)) <= 2
            and levenshtein_less_equal(word, term, 2) <= case when length(term) >= 6 then 2 else 1 end
          order by levenshtein(word, term), word
          limit 3
        ) as w
      ), '') as alternatives
      from terms
    ), clauses as (
      -- Per term: its English stem (exact) or the word as typed as a prefix, or a correction.
      select ord, nullif((
        to_tsquery('english', quote_literal(term) || alternatives)
        || to_tsquery('simple', quote_literal(term) || ':*' || alternatives)
      )::text, '') as clause
      from corrected
    ), q as materialized (
      select to_tsquery('simple', string_agg('(' || clause || ')', ' & ' order by ord)) as tsq
      from clauses where clause is not null
    ), ranked as (
      select ${videos}.*, ${score} as score
      from ${videos}
      where ${videos.state} = 'ready'
        and ${videos.searchDocument} @@ ${tsq}
        ${query.genre ? sql`and ${videos.genres} @> array[${query.genre}]::text[]` : sql``}
    )
    select * from ranked
    ${query.after ? sql`where (ranked.score, ranked.id) < (${query.after.score}::numeric, ${query.after.id})` : sql``}
    order by ranked.score desc, ranked.id desc
    limit ${query.limit}`;
  return statement;
}

async function rankedSearch(db: Database, query: SearchStatementInput): Promise<RankedRow[]> {
  const result = await db.execute(searchStatement(query));
  return result.rows.map((row) => ({ video: rowToVideo(row), score: String(row.score) }));
}

/** `db.execute` returns column names as stored; map them back to the table's typed shape. */
function rowToVideo(row: Record<string, unknown>): Video {
  const columns = videos as unknown as Record<string, { name: string; mapFromDriverValue?: (value: unknown) => unknown }>;
  const video: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) {
    if (!column || typeof column !== "object" || typeof column.name !== "string") continue;
    const value = row[column.name];
    video[key] = value !== null && value !== undefined && column.mapFromDriverValue ? column.mapFromDriverValue(value) : value;
  }
  return video as Video;
}

/**
 * Ranked, typo-tolerant search over listed videos. Reads the replica, or the primary right after
 * a catalog change, so an edit is searchable and a deletion gone on the next search.
 */
export async function searchVideos(
  services: Services,
  query: { q: string; limit: number; genre?: string; cursor?: string },
): Promise<SearchPage> {
  const terms = searchTerms(query.q);
  const text = terms.join(" ");
  const fingerprint = (await sha256Hex(`${text}\u0000${query.genre ?? ""}`)).slice(0, 16);
  const cursors = cursorCodec(services.config, "search", searchCursorPayload);
  const after = query.cursor ? await cursors.decode(query.cursor) : undefined;
  if (after && after.h !== fingerprint) {
    throw new ApiError(
      "bad-request",
      "This cursor belongs to another search. Send the same q and genre as the first page, or leave cursor out.",
      {
        errors: [{ path: "cursor", message: "Not a cursor of this search." }],
      },
    );
  }
  // Only punctuation: nothing to search for, and nothing matches.
  if (terms.length === 0) return { items: [], nextCursor: null };

  const rows = await rankedSearch(await catalogReadDb(services), {
    terms,
    text,
    genre: query.genre,
    limit: query.limit + 1,
    after: after && { score: after.s, id: after.i },
  });
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  const nextCursor = rows.length > query.limit && last ? await cursors.encode({ s: last.score, i: last.video.id, h: fingerprint }) : null;
  return {
    items: await Promise.all(
      items.map(async ({ video, score }) => ({ ...(await toVideoSummary(services.config, video)), score: Number(score) })),
    ),
    nextCursor,
  };
}
