import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../platform/db.ts";
import type { RowKind } from "./cache-keys.ts";

/**
 * The rows that recommend, computed in Postgres from the write-behind copy of progress
 * (`watch_progress`): one set-based statement per kind of row, over every subject of that kind at
 * once, never a query per title or per viewer. Only listed (`ready`) titles take part, as
 * subjects and as items. docs/decisions/0023-recommending-rows.md says why each is built this way.
 */

/** Titles per row ("Top 10" has ten). */
export const ROW_SIZE = 20;
const TOP_SIZE = 10;
const DAY_MS = 86_400_000;
/** "Trending now": distinct viewers in the last day. */
const TRENDING_WINDOW_MS = DAY_MS;
/** "Top 10 in <country>": distinct viewers in that country in the last week. */
const TOP_WINDOW_MS = 7 * DAY_MS;
/** Co-watching looks at the last 90 days, and at each viewer's 50 most recent titles: pairs per viewer stay under 2,500. */
const COWATCH_WINDOW_MS = 90 * DAY_MS;
const COWATCH_TITLES_PER_VIEWER = 50;
/**
 * Text similarity joins titles on shared words; a word in more titles than this (a genre, "the
 * night") says little and would make the join quadratic, so it is left to the genre score.
 */
const MAX_WORD_TITLES = 50;
/** Each genre's most watched titles are candidates for every title of the genre (so a title with no shared word still gets a row). */
const GENRE_PEERS = 20;
/** Score of one shared genre, against a shared word's inverse document frequency (ln(N / titles with it), about 10 for a rare word in 100,000 titles). */
const GENRE_WEIGHT = 4;

/** What one kind's statement yields: a row per subject, its titles best first. */
type RowsStatement = (now: Date) => SQL;

const since = (now: Date, windowMs: number) => new Date(now.getTime() - windowMs).toISOString();

/** "Trending now": one row, the titles with the most distinct viewers (progress rows) in the last day. */
const trending: RowsStatement = (now) => sql`
  select '' as subject, array_agg(video_id order by viewers desc, last_seen desc, video_id) as video_ids
  from (
    select wp.video_id, count(*) as viewers, max(wp.updated_at) as last_seen
    from watch_progress wp join videos v on v.id = wp.video_id
    where wp.updated_at > ${since(now, TRENDING_WINDOW_MS)}::timestamptz and v.state = 'ready'
    group by wp.video_id
    order by viewers desc, last_seen desc, wp.video_id
    limit ${ROW_SIZE}
  ) top
  having count(*) > 0`;

/** "Top 10 in <country>": a row per country the last week's heartbeats came from. */
const top10: RowsStatement = (now) => sql`
  select country as subject, array_agg(video_id order by rank) as video_ids
  from (
    select wp.country, wp.video_id,
      row_number() over (partition by wp.country order by count(*) desc, max(wp.updated_at) desc, wp.video_id) as rank
    from watch_progress wp join videos v on v.id = wp.video_id
    where wp.updated_at > ${since(now, TOP_WINDOW_MS)}::timestamptz and wp.country is not null and v.state = 'ready'
    group by wp.country, wp.video_id
  ) ranked
  where rank <= ${TOP_SIZE}
  group by country`;

/**
 * "Because you watched X": for every title X, the titles most watched by the viewers who watched X
 * (item-item co-watching), scored by cosine similarity (viewers of both over the geometric mean of
 * each one's viewers) so that what everyone watches does not crowd every row.
 * Ratings (issue 25's thumbs) weigh in `watched`: a thumbs-down drops the pair, a thumbs-up counts double.
 */
const because: RowsStatement = (now) => sql`
  with watched as (
    select user_id, video_id from (
      select wp.user_id, wp.video_id, row_number() over (partition by wp.user_id order by wp.updated_at desc) as recency
      from watch_progress wp join videos v on v.id = wp.video_id
      where wp.updated_at > ${since(now, COWATCH_WINDOW_MS)}::timestamptz and v.state = 'ready'
    ) recent
    where recency <= ${COWATCH_TITLES_PER_VIEWER}
  ),
  viewers as (select video_id, count(*)::float8 as n from watched group by video_id),
  pairs as (
    select a.video_id as subject, b.video_id as other, count(*) as together
    from watched a join watched b on b.user_id = a.user_id and b.video_id <> a.video_id
    group by a.video_id, b.video_id
  ),
  ranked as (
    select p.subject, p.other,
      row_number() over (partition by p.subject order by p.together / sqrt(vs.n * vo.n) desc, p.together desc, p.other) as rank
    from pairs p join viewers vs on vs.video_id = p.subject join viewers vo on vo.video_id = p.other
  )
  select subject, array_agg(other order by rank) as video_ids from ranked where rank <= ${ROW_SIZE} group by subject`;

/**
 * "More like this": for every title, the titles that share its words (title, cast, summary: the
 * search document's lexemes, weighted by rarity, cast twice and summary half) and its genres.
 * Candidates come from shared words that few titles have, and from each genre's most watched
 * titles; then every candidate pair is scored and each title keeps its best.
 */
const like: RowsStatement = (now) => sql`
  with total as (select greatest(count(*), 1)::float8 as n from videos where state = 'ready'),
  terms as (
    select v.id, t.lexeme,
      case when 'B' = any(t.weights) then 2.0 when 'A' = any(t.weights) then 1.0 when 'D' = any(t.weights) then 0.5 else 0.0 end as weight
    from videos v, unnest(v.search_document) t
    where v.state = 'ready'
  ),
  words as (select lexeme, count(*)::float8 as titles from terms group by lexeme having count(*) between 2 and ${MAX_WORD_TITLES}),
  shared as (
    select a.id as subject, b.id as other, sum(ln(total.n / w.titles) * least(a.weight, b.weight)) as score
    from words w join terms a on a.lexeme = w.lexeme join terms b on b.lexeme = w.lexeme and b.id <> a.id, total
    group by a.id, b.id
  ),
  recent_viewers as (
    select video_id, count(*) as viewers from watch_progress
    where updated_at > ${since(now, TOP_WINDOW_MS)}::timestamptz group by video_id
  ),
  title_genres as (select v.id, g.genre from videos v cross join unnest(v.genres) g(genre) where v.state = 'ready'),
  genre_peers as (
    select genre, id from (
      select t.genre, t.id, row_number() over (partition by t.genre order by coalesce(r.viewers, 0) desc, t.id) as place
      from title_genres t left join recent_viewers r on r.video_id = t.id
    ) peers
    where place <= ${GENRE_PEERS}
  ),
  candidates as (
    select subject, other, sum(score) as score from (
      select subject, other, score from shared
      union all
      select t.id, p.id, 0 from title_genres t join genre_peers p on p.genre = t.genre and p.id <> t.id
    ) c
    group by subject, other
  ),
  ranked as (
    select c.subject, c.other,
      row_number() over (
        partition by c.subject
        order by c.score + ${GENRE_WEIGHT} * (select count(*) from unnest(a.genres) g where g = any(b.genres)) desc, c.other
      ) as rank
    from candidates c join videos a on a.id = c.subject join videos b on b.id = c.other
  )
  select subject, array_agg(other order by rank) as video_ids from ranked where rank <= ${ROW_SIZE} group by subject`;

export const rowStatements: Record<RowKind, RowsStatement> = { trending, top10, because, like };

/**
 * Recomputes every row of `kind` into `recommended_rows`, in one statement: rows whose titles
 * changed are written and marked `pending` (to be published to KV); rows unchanged are not touched;
 * rows of the kind that the computation no longer yields (a title unpublished, a country with no
 * views this week) are emptied and marked `pending`, so the publisher deletes their KV copies.
 * Answers how many rows changed.
 */
export async function recomputeRows(db: Pick<Database, "transaction">, kind: RowKind, now: Date): Promise<number> {
  const at = now.toISOString();
  return db.transaction(async (tx) => {
    // The planner prices these statements high enough to JIT-compile them, which took seconds of a
    // sub-second statement here (bench:rows): they are plain joins and aggregates, nothing to gain.
    await tx.execute(sql`set local jit = off`);
    const result = await tx.execute<{ changed: number }>(sql`
    with computed as (${rowStatements[kind](now)}),
    written as (
      insert into recommended_rows (kind, subject, video_ids, computed_at, pending)
      select ${kind}, subject, video_ids, ${at}::timestamptz, true from computed
      on conflict (kind, subject) do update set video_ids = excluded.video_ids, computed_at = excluded.computed_at, pending = true
      where recommended_rows.video_ids is distinct from excluded.video_ids
      returning 1
    ),
    emptied as (
      update recommended_rows set video_ids = '{}', computed_at = ${at}::timestamptz, pending = true
      where kind = ${kind} and cardinality(video_ids) > 0 and subject not in (select subject from computed)
      returning 1
    ),
    run as (
      insert into recommendation_runs (kind, finished_at) values (${kind}, ${at}::timestamptz)
      on conflict (kind) do update set finished_at = excluded.finished_at
    )
    select (select count(*) from written)::int + (select count(*) from emptied)::int as changed`);
    return Number(result.rows[0]?.changed ?? 0);
  });
}
