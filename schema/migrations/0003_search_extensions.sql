-- Custom migration: trigram similarity (typo-tolerant search) needs pg_trgm, which ships with
-- PostgreSQL (contrib), with Neon, and with PGlite (loaded by scripts/lib/embedded-postgres.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
