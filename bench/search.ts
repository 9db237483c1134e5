/**
 * `npm run bench:search`: search on a catalog of 100,000 generated videos (BENCH_VIDEOS to change),
 * with the exact statement the Worker runs, through the same Neon driver, side by side with a
 * naive `ILIKE '%q%'` scan. Prints p50/p99 per kind of query, the ratio, and the index sizes.
 * Runs on an embedded PGlite, BENCH_DATABASE=postgresql (a throw-away cluster of this machine's
 * PostgreSQL), or BENCH_DATABASE_URL (a PostgreSQL you can drop data in). With PGlite it also
 * prints the CPU time of each search (see `time`); it prints the load average at the start and
 * the end: on a shared machine the wall times grow with the neighbours' load.
 *
 * Each of BENCH_ROUNDS rounds (default 200) runs every query once, each round starting one query
 * further along, so a burst of load from elsewhere on the machine spreads over all of them; the
 * ILIKE scans, tens of times slower, run BENCH_SCAN_ROUNDS rounds (default 10). BENCH_EXPLAIN=1
 * prints each statement's EXPLAIN (ANALYZE, BUFFERS) first; BENCH_EXTRA adds queries (comma-separated).
 */
import { loadavg } from "node:os";
import { type SQL, sql } from "drizzle-orm";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { databaseFromEnv, startDatabase } from "../scripts/lib/local-stack/index.ts";
import { searchQuery, searchTerms } from "../workers/search/schema.ts";
import { searchStatement } from "../workers/search/service.ts";
import { progress, summarize } from "./lib.ts";

const total = Number(process.env.BENCH_VIDEOS ?? 100_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 200);
const scanRounds = Number(process.env.BENCH_SCAN_ROUNDS ?? 10);

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

/**
 * A deterministic pseudo-random sequence (a 32-bit linear congruential generator), so every run
 * builds the same catalog. In 32-bit integer arithmetic: computed in doubles, the product lost its
 * low bits, the sequence repeated after 10,466 numbers, and the catalog was ~500 videos, 200 times.
 */
function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** The same query once per round, each round starting one further along. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/**
 * Wall time, and the CPU time this process spent meanwhile. With the embedded PGlite the database
 * runs in this process, so the CPU time is the query's own work: on a shared machine it does not
 * grow with the neighbours' load, while the wall time also counts the waits for a core.
 */
async function time(run: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await run();
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

async function main() {
  const spec = databaseFromEnv("BENCH");
  const database = await startDatabase(spec);
  // The CPU time of this process is the query's own work only when Postgres runs in it (PGlite).
  const inProcess = spec.kind === "pglite";
  const pool = createNodePool(database.url, database.wsProxy);
  const db = createNodeDb(pool);
  try {
    console.log(
      `database: ${database.source}; catalog: ${total.toLocaleString()} videos; load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(" ")}`,
    );

    const random = rng(42);
    // Vocabularies: 6,000 title words, 1,500 first names, 4,000 surnames (made up, deterministic).
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
    const { titles, words } = (
      await pool.query<{ titles: number; words: number }>(
        "select (select count(distinct title) from videos)::int as titles, (select count(*) from search_words)::int as words",
      )
    ).rows[0] ?? { titles: 0, words: 0 };
    console.log(
      `catalog built in ${((performance.now() - started) / 1000).toFixed(1)} s: ${titles.toLocaleString()} distinct titles, ${words.toLocaleString()} dictionary words`,
    );

    // Queries taken from a real row of the catalog, then shortened or misspelt.
    const sample = (
      await pool.query<{ title: string; cast: string[] }>(
        `select title, "cast" from videos order by id limit 1 offset ${Math.floor(total / 3)}`,
      )
    ).rows[0];
    const [first = "", second = ""] = (sample?.title ?? "").split(" ");
    const castName = sample?.cast[0] ?? "";
    // The longest word of the row: two typos need a word of 6 letters or more to be in budget.
    const long = [...(sample?.title ?? "").split(" "), ...(sample?.cast ?? []).flatMap((name) => name.split(" "))].reduce(
      (longest, candidate) => (candidate.length > longest.length ? candidate : longest),
      "",
    );
    const misspell = (text: string, letters: number) => {
      let out = text;
      for (let i = 0; i < letters; i++) {
        const at = 1 + Math.floor(((i + 1) * (out.length - 2)) / (letters + 1));
        out = `${out.slice(0, at)}${out[at] === "x" ? "y" : "x"}${out.slice(at + 1)}`;
      }
      return out;
    };
    const queries: Record<string, string> = {
      "ranked, two title words": `${first} ${second}`,
      "prefix (search-as-you-type)": long.slice(0, long.length - 2),
      "prefix, 3 letters": first.slice(0, 3),
      "prefix, 2 letters": first.slice(0, 2),
      "cast name": castName,
      "typo, one letter": misspell(first, 1),
      "typo, two letters": misspell(long, 2),
      // "braking bda": one word within the typo budget, the other (reversed) far beyond it.
      "one typo, one bad word": `${misspell(first, 1)} ${[...second].reverse().join("")}`,
      // BENCH_EXTRA="drama,other words": more queries, to look at one case without a code change.
      ...Object.fromEntries(
        (process.env.BENCH_EXTRA ?? "")
          .split(",")
          .map((q) => q.trim())
          .filter(Boolean)
          .map((q) => [`extra: ${q}`, q]),
      ),
    };
    console.log(`\nqueries: ${JSON.stringify(queries)}`);

    type Case = { label: string; q: string; ranked?: SQL; refused?: string; ilike: SQL; hits: number };
    const cases: Case[] = [];
    for (const [label, q] of Object.entries(queries)) {
      const like = `%${q}%`;
      const ilike = sql`select id, title from videos where state = 'ready' and (title ilike ${like} or summary ilike ${like}
        or array_to_string("cast", ' ') ilike ${like} or array_to_string(genres, ' ') ilike ${like}) order by published_at desc limit 21`;
      // The Worker validates q first: a query it refuses never reaches Postgres.
      const parsed = searchQuery.safeParse({ q });
      if (!parsed.success) {
        cases.push({ label, q, refused: parsed.error.issues[0]?.message ?? "refused", ilike, hits: 0 });
        continue;
      }
      const terms = searchTerms(parsed.data.q);
      const ranked = searchStatement({ terms, limit: 21, ceiling: 4 });
      const hits = (await db.execute(ranked)).rows.length;
      if (process.env.BENCH_EXPLAIN) {
        const plan = await db.execute(sql`explain (analyze, buffers) ${ranked}`);
        console.log(`\n${label} (${q}):\n${plan.rows.map((row) => Object.values(row)[0]).join("\n")}`);
      }
      cases.push({ label, q, ranked, ilike, hits });
    }

    const searchTimes = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    const searchCpu = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    const scanTimes = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    for (let round = 0; round < rounds; round++) {
      for (const c of rotate(cases, round)) {
        const ranked = c.ranked;
        // A refused query: the time to validate it, which is all the Worker spends on it.
        const elapsed = ranked ? await time(() => db.execute(ranked)) : await time(async () => searchQuery.safeParse({ q: c.q }));
        searchTimes.get(c.label)?.push(elapsed.wall);
        searchCpu.get(c.label)?.push(elapsed.cpu);
      }
      progress("search rounds", round + 1, rounds);
    }
    for (let round = 0; round < scanRounds; round++) {
      for (const c of rotate(cases, round)) scanTimes.get(c.label)?.push((await time(() => db.execute(c.ilike))).wall);
      progress("ILIKE rounds", round + 1, scanRounds);
    }

    const cpuHeader = !inProcess ? "" : ` ${"CPU p50".padStart(9)} ${"p99".padStart(6)}`;
    console.log(
      `\n${"query".padEnd(28)} ${"search p50".padStart(11)} ${"p99".padStart(8)}${cpuHeader} ${"ILIKE p50".padStart(11)} ${"p99".padStart(8)}  ${"faster (p50)".padStart(12)}  hits`,
    );
    for (const c of cases) {
      const s = summarize(searchTimes.get(c.label) ?? []);
      const cpu = summarize(searchCpu.get(c.label) ?? []);
      const n = summarize(scanTimes.get(c.label) ?? []);
      const ms = (value: number) => (value < 0.1 ? `${value.toFixed(3)}` : `${value.toFixed(1)}`);
      const cpuColumns = !inProcess ? "" : ` ${ms(cpu.p50).padStart(9)} ${ms(cpu.p99).padStart(6)}`;
      console.log(
        `${c.label.padEnd(28)} ${`${ms(s.p50)} ms`.padStart(11)} ${ms(s.p99).padStart(8)}${cpuColumns} ${`${ms(n.p50)} ms`.padStart(11)} ${ms(n.p99).padStart(8)}  ${`${(n.p50 / s.p50).toFixed(1)}x`.padStart(12)}  ${c.refused ? "refused (400), no SQL" : c.hits}`,
      );
    }
    for (const c of cases) if (c.refused) console.log(`${c.label} (${JSON.stringify(c.q)}): 400, "${c.refused}"`);
    const sizes = await pool.query<{ name: string; size: string }>(
      `select relname as name, pg_size_pretty(pg_relation_size(oid)) as size from pg_class
       where relname like 'search_words%' or relname in ('videos_search_document_idx', 'videos') order by relname`,
    );
    console.log(`\nsizes: ${sizes.rows.map((row) => `${row.name} ${row.size}`).join(", ")}`);
    console.log(
      `load average at the end: ${loadavg()
        .map((load) => load.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    await pool.end();
    await database.stop();
  }
}

await main();
