-- Custom migration: edit distance (levenshtein) to pick spelling corrections for search terms.
-- Ships with PostgreSQL (contrib), Neon and PGlite (loaded by scripts/lib/embedded-postgres.ts).
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
