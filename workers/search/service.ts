import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type MaturityRank, NO_CEILING, searchWords, series, type Video, videos } from "../../schema/index.ts";
import { readThroughStamped } from "../platform/cache.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { cursorCodec } from "../platform/cursor.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { catalogReadDb, catalogReadDbAt, catalogVersionEntry, previewUrl, toVideoSummary } from "../videos/index.ts";
import { searchKeys } from "./cache-keys.ts";
import { hasSearchableTerm, MIN_SEARCH_TERM, type SearchPage, type SeriesHit, searchTerms } from "./schema.ts";

/** Ranking weights of the tsvector's labels {D, C, B, A}: summary, genres, cast, title. */
const RANK_WEIGHTS = "{0.1, 0.25, 0.5, 1.0}";

/**
 * Added to the score of a video that matches every term. The rest of a score is below 6 (a
 * `ts_rank` normalised to [0, 1) times 4, plus 2 for a word as typed in the title), so every video
 * that matches all the terms scores above every video that misses one, and one `(score, id)`
 * keyset pages through both.
 */
export const ALL_TERMS_BONUS = 10;

/**
 * A prefix completes to at most this many words of the dictionary, the shortest first: each
 * completion adds the videos that use it, so an open-ended prefix ("tor") would otherwise reach a
 * large share of the catalog and make every query that contains it visit and rank those rows.
 */
export const MAX_COMPLETIONS = 3;

const searchCursorPayload = z.object({
  /**
   * Score of the last item: a float8 as the shortest string that reads back as the same number
   * (what Postgres and JavaScript both print), so the keyset compares exactly the value it ranked.
   */
  s: z.string().regex(/^\d+(\.\d+)?(e-?\d+)?$/),
  i: z.string().max(64),
  /** Which search the cursor belongs to: a cursor of another query or genre is refused. */
  h: z.string().length(16),
});

/** Part of every cursor fingerprint: bumped when scores change meaning, so older cursors are refused. */
const SCORE_VERSION = "2";

export interface SearchStatementInput {
  terms: string[];
  genre?: string;
  limit: number;
  after?: { score: string; id: string };
  /** The profile's maturity ceiling: titles ranked above it are not candidates. */
  ceiling: MaturityRank;
}

interface RankedRow {
  video: Video;
  score: string;
  seriesTitle: string | null;
}

/**
 * One statement:
 * 1. per term, what it may match: itself as a whole word (its English stem, or as typed); if it has
 *    three letters or more, the start of up to `MAX_COMPLETIONS` words of the catalog's dictionary
 *    (`search_words`), the shortest first; and if it has four or more and is not a word of the
 *    dictionary, up to three spelling corrections from it: words sharing trigrams with it (`%`) or
 *    its first letter, within an edit distance of 1 (4-5 letters) or 2 (6 and more). Each term
 *    becomes one tsquery clause that ORs these; the steps are materialised CTEs, so each runs once;
 * 2. the first tier: videos matching every clause (ANDed), through the GIN index on the weighted
 *    document (`@@`; the tsquery is an InitPlan, so the index can use it);
 * 3. the second tier, only when the first has fewer rows than the page needs (a one-time filter,
 *    so otherwise its tsquery is never built and its index never read): videos matching all
 *    clauses but one, where the ones kept include a term of three letters or more (a 1-2 letter
 *    word alone never answers a search). A misspelt word beyond the typo budget ("braking bda")
 *    then still finds the title by its other words.
 * The score is the weighted full-text rank of what matched (title A > cast B > genres C > summary
 * D) times 4, plus 2 when the title has a word as typed (not a completion or correction), plus
 * `ALL_TERMS_BONUS` in the first tier. Ties break on id: the order is total, for keyset pages.
 * Terms hold only letters and digits (see `searchTerms`) and are quoted as tsquery literals, so
 * no input changes the query's shape.
 */
export function searchStatement(query: SearchStatementInput): SQL {
  // A Postgres array literal; terms hold no quotes, commas or braces, and quoting keeps `null` a word.
  const terms = sql`${`{${query.terms.map((term) => `"${term}"`).join(",")}}`}::text[]`;
  const after = query.after;
  // A tier ranks its candidates as (id, score) only: the full rows are read for the page alone.
  const tier = (match: SQL, bonus: number, rankedBy: SQL) => sql`
    select ranked.id, ranked.score from (
      select ${videos.id} as id, ${bonus}::float8
        + ts_rank(${RANK_WEIGHTS}::float4[], ${videos.searchDocument}, ${rankedBy}, 32) * 4
        + coalesce((${videos.searchDocument} @@ (select title_typed from q))::int, 0) * 2 as score
      from ${videos}
      where ${videos.state} = 'ready' and ${match}
        ${query.genre ? sql`and ${videos.genres} @> array[${query.genre}]::text[]` : sql``}
        ${query.ceiling < NO_CEILING ? sql`and ${videos.maturityRank} <= ${query.ceiling}` : sql``}
    ) as ranked
    ${after ? sql`where (ranked.score, ranked.id) < (${after.score}::float8, ${after.id})` : sql``}
    order by ranked.score desc, ranked.id desc
    limit ${query.limit}`;
  // `(select … from q)` is an InitPlan: evaluated once, then usable as an index condition.
  const every = sql`(select every from q)`;
  // A cursor in the second tier: nothing of the first is left to read.
  const firstTierLeft = !after || Number(after.score) >= ALL_TERMS_BONUS;
  return sql`
    with terms as (
      select term, ord from unnest(${terms}) with ordinality as t(term, ord)
    ), expanded as materialized (
      select ord, term, length(term) >= ${MIN_SEARCH_TERM} as searchable, coalesce((
        select string_agg(' | ' || quote_literal(c.word), '' order by length(c.word), c.word)
        from (
          -- The dictionary's words that start with the term: a range of its text_pattern_ops index.
          select word from ${searchWords}
          where length(term) >= ${MIN_SEARCH_TERM}
            and word ~>=~ term and word ~<~ (term || chr(1114111)) and word <> term
          order by length(word), word
          limit ${MAX_COMPLETIONS}
        ) as c
      ), '') as completions, coalesce((
        select string_agg(' | ' || quote_literal(w.word), '' order by levenshtein(w.word, term), w.word)
        from (
          select word from ${searchWords}
          -- A term that is a word of the catalog is taken as typed: no correction needed.
          where length(term) >= 4 and word <> term
            and not exists (select 1 from ${searchWords} as known where known.word = term)
            -- Candidates from an index: trigram neighbours, or the same first letter and a length
            -- within the budget (search_words_first_letter_length_idx); BitmapOr, no scan.
            and (word % term or (left(word, 1) = left(term, 1) and length(word) between length(term) - 2 and length(term) + 2))
            and abs(length(word) - length(term)) <= 2
            and levenshtein_less_equal(word, term, 2) <= case when length(term) >= 6 then 2 else 1 end
          order by levenshtein(word, term), word
          limit 3
        ) as w
      ), '') as corrections
      from terms
    ), clauses as (
      select ord, searchable, nullif((
        to_tsquery('english', quote_literal(term) || corrections)
        || to_tsquery('simple', quote_literal(term) || completions || corrections)
      )::text, '') as clause, nullif((
        -- The term as typed (or its stem) in the title: weight A only.
        to_tsquery('english', quote_literal(term) || ':A') || to_tsquery('simple', quote_literal(term) || ':A')
      )::text, '') as title_typed
      from expanded
    ), q as materialized (
      select to_tsquery('simple', string_agg('(' || clause || ')', ' & ' order by ord)) as every,
        to_tsquery('simple', string_agg('(' || title_typed || ')', ' | ' order by ord)) as title_typed
      from clauses where clause is not null
    ), all_but_one as materialized (
      -- One conjunction per term left out, ORed; null for a single term (no second tier).
      select to_tsquery('simple', string_agg('(' || kept || ')', ' | ')) as tsq
      from (
        select string_agg('(' || k.clause || ')', ' & ' order by k.ord) as kept
        from clauses as left_out
        join clauses as k on k.ord <> left_out.ord and k.clause is not null
        where left_out.clause is not null
        group by left_out.ord
        having bool_or(k.searchable)
      ) as subsets
    ), first_tier as materialized (
      ${firstTierLeft ? tier(sql`${videos.searchDocument} @@ ${every}`, ALL_TERMS_BONUS, every) : sql`select null::text as id, null::float8 as score where false`}
    ), second_tier as materialized (
      ${tier(
        sql`(select count(*) from first_tier) < ${query.limit}
          and ${videos.searchDocument} @@ (select tsq from all_but_one)
          and not (${videos.searchDocument} @@ ${every})`,
        0,
        sql`(select tsq from all_but_one)`,
      )}
    )
    select ${videos}.*, page.score, ${series.title} as series_title
    from (
      select * from first_tier union all select * from second_tier
      order by score desc, id desc
      limit ${query.limit}
    ) as page
    join ${videos} on ${videos.id} = page.id
    left join ${series} on ${series.id} = ${videos.seriesId}
    order by page.score desc, page.id desc`;
}

async function rankedSearch(db: Database, query: SearchStatementInput): Promise<RankedRow[]> {
  const result = await db.execute(searchStatement(query));
  return result.rows.map((row) => ({
    video: rowToVideo(row),
    score: String(row.score),
    seriesTitle: typeof row.series_title === "string" ? row.series_title : null,
  }));
}

/** How many series a search shows above its titles. */
export const MAX_SERIES_HITS = 5;

/**
 * Series with a listed episode whose title or summary has every term (as a word, or, from three
 * letters, as the start of one), best first: the search document's rank (title above summary), then
 * id. Through `series_search_document_idx`; the poster is the first listed episode's (the lateral
 * read of `videos_episode_unique`).
 */
export function seriesSearchStatement(query: { terms: string[]; genre?: string; ceiling: MaturityRank }): SQL {
  const terms = sql`${`{${query.terms.map((term) => `"${term}"`).join(",")}}`}::text[]`;
  return sql`
    with clauses as (
      select nullif((
        to_tsquery('english', quote_literal(term))
        || to_tsquery('simple', quote_literal(term) || case when length(term) >= ${MIN_SEARCH_TERM} then ':*' else '' end)
      )::text, '') as clause
      from unnest(${terms}) as term
    ), q as materialized (
      select to_tsquery('simple', string_agg('(' || clause || ')', ' & ')) as every from clauses where clause is not null
    )
    select ${series.id} as id, ${series.title} as title, ${series.summary} as summary, ${series.genres} as genres,
      ${series.maturityRating} as maturity_rating, first_episode.id as episode_id, first_episode.poster_key as poster_key
    from ${series}
    join lateral (
      select ${videos.id} as id, ${videos.posterKey} as poster_key from ${videos}
      where ${videos.seriesId} = ${series.id} and ${videos.state} = 'ready'
        ${query.ceiling < NO_CEILING ? sql`and ${videos.maturityRank} <= ${query.ceiling}` : sql``}
      order by ${videos.seasonNumber}, ${videos.episodeNumber}
      limit 1
    ) as first_episode on true
    where ${series.searchDocument} @@ (select every from q)
      ${query.genre ? sql`and ${series.genres} @> array[${query.genre}]::text[]` : sql``}
    order by ts_rank(${RANK_WEIGHTS}::float4[], ${series.searchDocument}, (select every from q)) desc, ${series.id} desc
    limit ${MAX_SERIES_HITS}`;
}

/** Series with a listed episode the profile may see (a kids profile finds no series only for grown-ups). */
async function searchSeries(
  services: Services,
  db: Database,
  query: { terms: string[]; genre?: string; ceiling: MaturityRank },
): Promise<SeriesHit[]> {
  const result = await db.execute(seriesSearchStatement(query));
  return Promise.all(
    result.rows.map(async (row) => ({
      id: String(row.id),
      title: String(row.title),
      summary: String(row.summary),
      genres: Array.isArray(row.genres) ? row.genres.map(String) : [],
      maturityRating: typeof row.maturity_rating === "string" ? row.maturity_rating : null,
      posterUrl: await previewUrl(services, String(row.episode_id), typeof row.poster_key === "string" ? row.poster_key : null),
    })),
  );
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
 * a catalog change, so an edit is searchable and a deletion gone on the next search. The first
 * page of a popular search is kept in KV for the catalog version (stale-if-error: served, marked
 * stale, while Postgres cannot be reached); a search that can be answered neither way is the
 * route's 503.
 */
export async function searchVideos(
  services: Services,
  query: { q: string; limit: number; genre?: string; cursor?: string; ceiling: MaturityRank },
): Promise<SearchPage> {
  const terms = searchTerms(query.q);
  // The ceiling is part of the search: of its cursors and of its cached first page (five copies at most).
  const fingerprint = (await sha256Hex(`${SCORE_VERSION}\u0000${terms.join(" ")}\u0000${query.genre ?? ""}\u0000${query.ceiling}`)).slice(
    0,
    16,
  );
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
  // The route's validation refuses such a query; nothing here may expand a 1-2 letter prefix.
  if (!hasSearchableTerm(query.q)) return { series: [], items: [], nextCursor: null };

  const page = async (db: Database): Promise<SearchPage> => {
    const [rows, seriesHits] = await Promise.all([
      rankedSearch(db, {
        terms,
        genre: query.genre,
        ceiling: query.ceiling,
        limit: query.limit + 1,
        after: after && { score: after.s, id: after.i },
      }),
      after ? [] : searchSeries(services, db, { terms, genre: query.genre, ceiling: query.ceiling }),
    ]);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor = rows.length > query.limit && last ? await cursors.encode({ s: last.score, i: last.video.id, h: fingerprint }) : null;
    return {
      series: seriesHits,
      items: await Promise.all(
        items.map(async ({ video, score, seriesTitle }) => ({
          ...(await toVideoSummary(services, video)),
          score: Number(score),
          episode:
            video.seriesId !== null && video.seasonNumber !== null && video.episodeNumber !== null
              ? { seriesId: video.seriesId, seriesTitle: seriesTitle ?? "", season: video.seasonNumber, number: video.episodeNumber }
              : null,
        })),
      ),
      nextCursor,
    };
  };
  if (after) return page(await catalogReadDb(services));
  // A first page: from KV when a copy of this catalog version is there (read with the version, one
  // KV call), else from Postgres; stored when it is popular; its last copy when Postgres is down.
  const entry = searchKeys.firstPage(fingerprint, query.limit);
  return readThroughStamped(services.cache, entry, catalogVersionEntry(), (version) => page(catalogReadDbAt(services, version)), {
    fill: askedBefore(entry.key),
  });
}

/**
 * First pages asked for in this isolate, and how often. A page asked a second time is popular
 * enough to keep in KV: one-off queries (search-as-you-type leaves many) cost no KV write. Bounded:
 * cleared when full, which only delays keeping a page.
 */
const asked = new Map<string, number>();
const ASKED_MAX_ENTRIES = 2000;

function askedBefore(key: string): boolean {
  if (asked.size >= ASKED_MAX_ENTRIES && !asked.has(key)) asked.clear();
  const times = (asked.get(key) ?? 0) + 1;
  asked.set(key, times);
  return times >= 2;
}
