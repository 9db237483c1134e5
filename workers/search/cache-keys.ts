import { cacheEntry, type Stamped } from "../platform/cache.ts";
import { CATALOG_STALE_IF_ERROR_SECONDS } from "../videos/index.ts";
import type { SearchPage } from "./schema.ts";

/**
 * The search service's KV keys: the first page of a popular search (`fingerprint`: its terms and
 * genre, as cursors carry it), stamped with the catalog version like the catalog's pages, fresh for
 * 5 minutes and kept a day longer for stale-if-error.
 */
export const searchKeys = {
  firstPage: (fingerprint: string, limit: number) =>
    cacheEntry<Stamped<SearchPage>>(`v2:search:${fingerprint}:${limit}`, {
      expirationTtl: 300,
      cacheTtl: 30,
      staleIfError: CATALOG_STALE_IF_ERROR_SECONDS,
    }),
} as const;
