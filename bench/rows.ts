/**
 * `npm run bench:rows`: how long the cron takes to recompute the rows that recommend over a large
 * catalog and history, with the exact statements the Worker runs (`recomputeRows`, one per kind),
 * through the same driver. Fills BENCH_TITLES titles (default 100,000) and BENCH_VIEWS views
 * (default 1,000,000: BENCH_VIEWS / 10 viewers of 10 titles each, popular titles far more watched
 * than the rest, from 20 countries, over the last 30 days) with `generate_series` in Postgres,
 * showing progress, then times each kind twice: the first pass writes every row, the second finds
 * nothing changed and writes nothing (the cron's steady state).
 * Postgres: BENCH_DATABASE_URL (a server whose data may be dropped), BENCH_DATABASE=pglite or
 * postgresql, else a throw-away cluster of this machine's PostgreSQL when installed, else PGlite.
 * BENCH_EXPLAIN=like,because prints those statements' EXPLAIN (ANALYZE, BUFFERS) first.
 * Publishing to KV is not timed here: it is bounded per cron run (`PUBLISH_MAX_ROWS` KV writes).
 */
import { loadavg } from "node:os";
import { sql } from "drizzle-orm";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { databaseFromEnv, installedPostgresql, startDatabase } from "../scripts/lib/local-stack/index.ts";
import { recomputeRows, rowKinds, rowStatements } from "../workers/recommendations/index.ts";
import { progress } from "./lib.ts";

const titles = Number(process.env.BENCH_TITLES ?? 100_000);
const views = Number(process.env.BENCH_VIEWS ?? 1_000_000);
const TITLES_PER_VIEWER = 10;
const viewers = Math.ceil(views / TITLES_PER_VIEWER);
const CHUNK = 10_000;

async function main() {
  const spec = databaseFromEnv("BENCH", installedPostgresql() ? "postgresql" : "pglite");
  const database = await startDatabase(spec);
  const pool = createNodePool(database.url, database.wsProxy);
  const db = createNodeDb(pool);
  try {
    console.log(
      `database: ${database.source}; ${titles.toLocaleString()} titles, ${views.toLocaleString()} views by ${viewers.toLocaleString()} viewers; load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(" ")}`,
    );
    await db.execute(sql`select setseed(0.42)`);
    // A vocabulary of made-up words (20 syllables, 3 or 4 of them: 168,000 words) for titles,
    // summaries and names; 12 genres; a title has two genres, two cast members and a summary of four words.
    const vocabulary = sql`
      with syllables as (select unnest(array['ka','lo','mi','ra','ven','tor','sha','dri','bel','on','qua','zi','mor','lan','est','ul','fen','ti','gor','ais']) as s),
      words as (select array_agg(w) as w from (select a.s || b.s || c.s as w from syllables a, syllables b, syllables c union all select a.s || b.s || c.s || d.s from syllables a, syllables b, syllables c, syllables d) all_words),
      genres as (select array['drama','comedy','thriller','documentary','sci-fi','romance','horror','animation','crime','fantasy','family','history'] as g)`;
    const fillStarted = performance.now();
    for (let from = 0; from < titles; from += CHUNK) {
      const to = Math.min(titles, from + CHUNK) - 1;
      await db.execute(sql`${vocabulary}
        insert into videos (id, title, summary, genres, "cast", release_year, state, published_at)
        select 'r' || lpad(to_hex(n), 19, '0'),
          w[1 + floor(random() * cardinality(w))::int] || ' ' || w[1 + floor(random() * cardinality(w))::int],
          'A story of ' || w[1 + floor(random() * cardinality(w))::int] || ' and ' || w[1 + floor(random() * cardinality(w))::int] || ', where '
            || w[1 + floor(random() * cardinality(w))::int] || ' meets ' || w[1 + floor(random() * cardinality(w))::int] || '.',
          array[g[1 + n % 12], g[1 + (n * 7 + 3) % 12]],
          array[w[1 + floor(random() * cardinality(w))::int] || ' ' || w[1 + floor(random() * cardinality(w))::int],
                w[1 + floor(random() * cardinality(w))::int] || ' ' || w[1 + floor(random() * cardinality(w))::int]],
          1950 + n % 75, 'ready', now() - make_interval(secs => n)
        from generate_series(${from}::int, ${to}::int) n, words, genres`);
      progress("filling titles", to + 1, titles);
    }
    for (let from = 0; from < viewers; from += CHUNK) {
      const to = Math.min(viewers, from + CHUNK) - 1;
      await db.execute(sql`
        insert into users (id, email, name, password_hash)
        select 'rows-bench-' || n, 'rows-bench-' || n || '@example.com', 'Bench viewer', 'unused'
        from generate_series(${from}::int, ${to}::int) n`);
      // Each viewer watches 10 titles, skewed to the popular ones (random()^3), from their country, in the last 30 days.
      await db.execute(sql`
        insert into watch_progress (user_id, video_id, position_seconds, duration_seconds, finished, updated_at, country)
        select 'rows-bench-' || n, 'r' || lpad(to_hex(floor(${titles} * random() ^ 3)::int), 19, '0'), 60, 1800, random() < 0.3,
          now() - random() * interval '30 days', (array['US','GB','DE','FR','IN','BR','JP','CA','AU','ES','IT','MX','NL','SE','PL','KR','AR','ZA','IS','NZ'])[1 + n % 20]
        from generate_series(${from}::int, ${to}::int) n, generate_series(1, ${TITLES_PER_VIEWER}) k
        on conflict do nothing`);
      progress("filling viewers and views", to + 1, viewers);
    }
    await pool.query("ANALYZE");
    const counted = await db.execute<{ titles: number; views: number }>(
      sql`select (select count(*) from videos where state = 'ready')::int as titles, (select count(*) from watch_progress)::int as views`,
    );
    const filled = counted.rows[0];
    console.log(
      `filled in ${((performance.now() - fillStarted) / 1000).toFixed(0)} s: ${filled?.titles.toLocaleString()} listed titles, ${filled?.views.toLocaleString()} views (a viewer's repeat of a title is one view)`,
    );

    const now = new Date();
    for (const kind of (process.env.BENCH_EXPLAIN ?? "").split(",").filter(Boolean) as (typeof rowKinds)[number][]) {
      const plan = await db.execute<{ "QUERY PLAN": string }>(sql`explain (analyze, buffers) ${rowStatements[kind](now)}`);
      console.log(`${kind}:\n${plan.rows.map((row) => row["QUERY PLAN"]).join("\n")}`);
    }
    console.log(
      `\n${"kind".padEnd(10)} ${"first pass".padStart(12)} ${"rows written".padStart(13)} ${"second pass".padStart(12)} ${"rows written".padStart(13)}`,
    );
    let total = 0;
    for (const kind of rowKinds) {
      const passes: { ms: number; changed: number }[] = [];
      for (let pass = 0; pass < 2; pass++) {
        if (process.stdout.isTTY) process.stdout.write(`computing ${kind}, pass ${pass + 1}…\r`);
        const started = performance.now();
        const changed = await recomputeRows(db, kind, now);
        passes.push({ ms: performance.now() - started, changed });
      }
      const [first, second] = passes as [{ ms: number; changed: number }, { ms: number; changed: number }];
      total += first.ms;
      console.log(
        `${kind.padEnd(10)} ${`${(first.ms / 1000).toFixed(2)} s`.padStart(12)} ${first.changed.toLocaleString().padStart(13)} ${`${(second.ms / 1000).toFixed(2)} s`.padStart(12)} ${second.changed.toLocaleString().padStart(13)}`,
      );
    }
    console.log(`all kinds, first pass: ${(total / 1000).toFixed(2)} s; load average ${loadavg()[0]?.toFixed(2)}`);
  } finally {
    await pool.end();
    await database.stop();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
