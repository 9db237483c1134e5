/**
 * Rows that recommend, computed from what viewers watched, never hand-picked (issue 25): the
 * cron recomputes them in Postgres from the copy of progress and publishes them to KV
 * (`refreshRecommendedRows`); the home and title pages read them from KV only (`readRecommendedRows`,
 * `readMoreLikeThis`, passed to the videos service at composition). docs/catalog.md.
 */
export { type RecommendedRowCopy, type RowKind, recommendedRowEntry, rowKinds } from "./cache-keys.ts";
export { recomputeRows, rowStatements } from "./compute.ts";
export { publishRows } from "./publish.ts";
export { RECOMPUTE_INTERVAL_MS, refreshRecommendedRows } from "./refresh.ts";
export { countryName, readMoreLikeThis, readRecommendedRows } from "./service.ts";
