import { sql } from "drizzle-orm";
import { index, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Every distinct word of titles, cast and genres (three letters or more), kept by the
 * `videos_search_sync` trigger. It is the dictionary that search completes prefixes from and
 * corrects typos against: a search term is expanded with the words that start with it, and, with
 * no exact hit, with the words closest to it (trigram or first-letter candidates, ranked by edit
 * distance). Words are never removed: a word no video uses any more only adds an alternative that
 * matches nothing.
 *
 * Its GIN index is built without the fast-update pending list: the dictionary only grows when a
 * title brings a new word, and every search reads it, so it should never pay for scanning
 * unmerged entries (with 100,000 fresh inserts that took a trigram lookup from 0.1 ms to 5 ms).
 */
export const searchWords = pgTable(
  "search_words",
  {
    word: text("word").primaryKey(),
  },
  (table) => [
    // Candidates for a misspelt term: `word % term`.
    index("search_words_word_trgm_idx").using("gin", sql`${table.word} gin_trgm_ops`).with({ fastupdate: false }),
    // Candidates for a misspelt term that kept its first letter (trigrams miss many of those in
    // short words): `left(word, 1) = left(term, 1) and length(word) between ...`.
    index("search_words_first_letter_length_idx").on(sql`left(${table.word}, 1)`, sql`length(${table.word})`),
    // Completions of a prefix: `word ~>=~ term and word ~<~ term || chr(1114111)`, a range of
    // this index whatever the database's collation (the primary key's order follows the collation).
    index("search_words_word_prefix_idx").on(table.word.op("text_pattern_ops")),
  ],
);
