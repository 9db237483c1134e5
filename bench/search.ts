/**
 * `npm run bench:search`: search on a catalog of 100,000 generated videos (BENCH_VIDEOS to change),
 * with the exact statement the Worker runs, through the same Neon driver, side by side with a
 * naive `ILIKE '%q%'` scan. Prints p50/p99 per kind of query, the ratio, and the index sizes.
 * Runs on an embedded PGlite, BENCH_DATABASE=postgresql (a throw-away cluster of this machine's
 * PostgreSQL), or BENCH_DATABASE_URL (a PostgreSQL you can drop data in).
 */
import { sql } from "drizzle-orm";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { databaseFromEnv, startDatabase } from "../scripts/lib/local-stack/index.ts";
import { searchTerms } from "../workers/search/schema.ts";
import { searchStatement } from "../workers/search/service.ts";
import { progress, summarize } from "./lib.ts";

const total = Number(process.env.BENCH_VIDEOS ?? 100_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 30);

const genres = [
  "drama",
  "comedy",
  "thriller",
  "documentary",
  "sci-fi",
  "romance",
  "horror",
  "animation",
  "crime",
  "fantasy",
  "family",
  "history",
];
const syllables = [
  "ka",
  "lo",
  "mi",
  "ra",
  "ven",
  "tor",
  "sha",
  "dri",
  "bel",
  "on",
  "qua",
  "zi",
  "mor",
  "lan",
  "est",
  "ul",
  "fen",
  "ti",
  "gor",
  "ais",
];

/** A made-up word of 2-4 syllables: a vocabulary as varied as real titles and names. */
function word(random: () => number): string {
  const count = 2 + Math.floor(random() * 3);
  return Array.from({ length: count }, () => pick(random, syllables)).join("");
}

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** A deterministic pseudo-random sequence, so every run builds the same catalog. */
function rng(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

async function main() {
  const database = await startDatabase(databaseFromEnv("BENCH"));
  const pool = createNodePool(database.url, database.wsProxy);
  const db = createNodeDb(pool);
  try {
    console.log(`database: ${database.source}; catalog: ${total.toLocaleString()} videos`);

    const random = rng(42);
    // Vocabularies: ~6,000 title words, 1,500 first names, 4,000 surnames (made up, deterministic).
    const titleWords = Array.from({ length: 6000 }, () => word(random));
    const firstNames = Array.from({ length: 1500 }, () => word(random));
    const lastNames = Array.from({ length: 4000 }, () => word(random));
    const batch = 2000;
    const started = performance.now();
    for (let offset = 0; offset < total; offset += batch) {
      const rows = Array.from({ length: Math.min(batch, total - offset) }, (_, i) => {
        const n = offset + i;
        const title = Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick(random, titleWords)).join(" ");
        const cast = [`${pick(random, firstNames)} ${pick(random, lastNames)}`, `${pick(random, firstNames)} ${pick(random, lastNames)}`];
        const genre = [pick(random, genres), pick(random, genres)];
        const summary = `A story of ${pick(random, titleWords)} and ${pick(random, titleWords)}, where ${pick(random, titleWords)} meets ${pick(random, titleWords)}.`;
        return sql`(${`v${n.toString(36).padStart(19, "0")}`}, ${title}, ${summary}, ${`{${genre.join(",")}}`}::text[], ${`{${cast.map((c) => `"${c}"`).join(",")}}`}::text[], ${1950 + (n % 75)}, 'ready', now() - make_interval(secs => ${n}))`;
      });
      await db.execute(
        sql`insert into videos (id, title, summary, genres, "cast", release_year, state, published_at) values ${sql.join(rows, sql`, `)}`,
      );
      progress("generating catalog", Math.min(offset + batch, total), total);
    }
    await pool.query("ANALYZE");
    console.log(`catalog built in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // Queries taken from real rows of the catalog, then shortened or misspelt.
    const sample = (
      await pool.query<{ title: string; cast: string[] }>(
        `select title, "cast" from videos order by id limit 1 offset ${Math.floor(total / 3)}`,
      )
    ).rows[0];
    const [first = "", second = ""] = (sample?.title ?? "").split(" ");
    const castName = sample?.cast[0] ?? "";
    const misspell = (text: string, letters: number) => {
      let out = text;
      for (let i = 0; i < letters; i++) {
        const at = 1 + Math.floor(((i + 1) * (out.length - 2)) / (letters + 1));
        out = `${out.slice(0, at)}${out[at] === "x" ? "y" : "x"}${out.slice(at + 1)}`;
      }
      return out;
    };
    const queries = {
      "ranked (two title words)": `${first} ${second}`,
      "prefix (search-as-you-type)": first.slice(0, Math.max(3, first.length - 2)),
      "cast name": castName,
      "typo, one letter": misspell(first, 1),
      "typo, two letters": misspell(first.length >= 8 ? first : `${first}`, 2),
    };
    const timeStatement = async (run: () => Promise<unknown>) => {
      const start = performance.now();
      await run();
      return performance.now() - start;
    };
    console.log(`\nqueries: ${JSON.stringify(queries)}`);
    console.log(
      `\n${"query".padEnd(32)} ${"search p50".padStart(11)} ${"p99".padStart(8)} ${"ILIKE p50".padStart(11)} ${"p99".padStart(8)}  speed-up (p50)  hits`,
    );
    for (const [label, q] of Object.entries(queries)) {
      const terms = searchTerms(q);
      const ranked = searchStatement({ terms, text: terms.join(" "), limit: 21 });
      const ilike = sql`select id, title from videos where state = 'ready' and (title ilike ${`%${q}%`} or summary ilike ${`%${q}%`}
        or array_to_string("cast", ' ') ilike ${`%${q}%`} or array_to_string(genres, ' ') ilike ${`%${q}%`}) order by published_at desc limit 21`;
      const hits = (await db.execute(ranked)).rows.length;
      if (process.env.BENCH_EXPLAIN) {
        const plan = await db.execute(sql`explain analyze ${ranked}`);
        console.log(plan.rows.map((row) => Object.values(row)[0]).join("\n"));
      }
      const searchTimes: number[] = [];
      const scanTimes: number[] = [];
      for (let i = 0; i < rounds; i++) {
        searchTimes.push(await timeStatement(() => db.execute(ranked)));
        scanTimes.push(await timeStatement(() => db.execute(ilike)));
      }
      const s = summarize(searchTimes);
      const n = summarize(scanTimes);
      console.log(
        `${label.padEnd(32)} ${`${s.p50.toFixed(1)} ms`.padStart(11)} ${`${s.p99.toFixed(1)}`.padStart(8)} ${`${n.p50.toFixed(1)} ms`.padStart(11)} ${`${n.p99.toFixed(1)}`.padStart(8)}  ${`${(n.p50 / s.p50).toFixed(1)}x`.padStart(14)}  ${hits}`,
      );
    }
    const sizes = await pool.query<{ name: string; size: string }>(
      `select relname as name, pg_size_pretty(pg_relation_size(oid)) as size from pg_class
       where relname in ('videos_search_document_idx', 'videos_search_text_trgm_idx', 'search_words', 'search_words_word_trgm_idx', 'videos') order by relname`,
    );
    console.log(`\nsizes: ${sizes.rows.map((row) => `${row.name} ${row.size}`).join(", ")}`);
  } finally {
    await pool.end();
    await database.stop();
  }
}

await main();
