import { sql } from "drizzle-orm";
import { index, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Every distinct word of titles, cast and genres (three letters or more), kept by the
 * `videos_search_sync` trigger. It is the dictionary that typo tolerance corrects against: a
 * search term with no exact hit is expanded with the words closest to it (trigram candidates,
 * ranked by edit distance). Words are never removed: a word no video uses any more only adds an
 * alternative that matches nothing.
 */
export const searchWords = pgTable(
  "search_words",
  {
    word: text("word").primaryKey(),
  },
  (table) => [
    // Candidates for a misspelt term: `word % term`.
    index("search_words_word_trgm_idx").using("gin", sql`${table.word} gin_trgm_ops`),
  ],
);
