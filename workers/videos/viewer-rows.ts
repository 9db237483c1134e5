import type { Services } from "../platform/services.ts";
import type { VideoSummary } from "./schema.ts";
import { catalogVersionChangedAt, getVideoSummaries } from "./service.ts";

/**
 * A row of one viewer's titles kept in KV for the warm home page (continue watching, My List): the
 * ids in the row's order and the summaries of the listed ones, stamped like the catalog's pages with
 * the catalog version they were built at. While that is the current version, the home page serves
 * `items` as they are: one KV key, not one per title (KV bills bulk reads per key). Otherwise it
 * reads the titles' documents.
 */
export interface ViewerRow {
  ids: string[];
  items: VideoSummary[];
  /** The catalog version `items` were built at; `UNSETTLED_VERSION` when built before a change had reached every location. */
  version: string;
  /** Milliseconds since the epoch. */
  builtAt: number;
}

/**
 * A catalog change reaches every location's KV within about this long (KV propagation, up to about
 * 60 s, plus a location's `cacheTtl`, 30 s): summaries read from KV documents sooner than this
 * after a change may be older than the change, so they are not stamped with its version.
 */
export const CATALOG_CHANGE_SETTLED_MS = 120_000;
export const UNSETTLED_VERSION = "unsettled";
/** Summaries carry preview URLs signed until the end of the day after tomorrow: a day's use is safe. */
const ROW_ITEMS_MAX_AGE_MS = 86_400_000;

/** Whether the row's stored summaries can be served while the catalog is at `version`. */
export function viewerRowItemsCurrent(row: ViewerRow, version: string, now: number): boolean {
  return row.version === version && now - row.builtAt < ROW_ITEMS_MAX_AGE_MS;
}

/** How a row's summaries are read: `onePerSeries` shows a series once, at its first id (continue watching). */
export interface ViewerRowOptions {
  onePerSeries?: boolean;
}

/** The KV copy for `ids` at catalog `version`: their summaries from the catalog's documents. */
export async function buildViewerRow(
  services: Services,
  ids: string[],
  version: string,
  options: ViewerRowOptions = {},
): Promise<ViewerRow> {
  const now = services.clock.now();
  const { items, stale } = await getVideoSummaries(services, ids, options);
  return {
    ids,
    items,
    // Built from stale copies (Postgres down): rebuilt by the row's next writer once it is back.
    version: !stale && now - catalogVersionChangedAt(version) >= CATALOG_CHANGE_SETTLED_MS ? version : UNSETTLED_VERSION,
    builtAt: now,
  };
}

/** The summaries a stored row shows: its own while they carry the catalog's `version`, otherwise its titles' documents. */
export async function viewerRowSummaries(
  services: Services,
  row: ViewerRow | undefined,
  version: string | undefined,
  options: ViewerRowOptions = {},
): Promise<VideoSummary[]> {
  if (!row || row.ids.length === 0) return [];
  if (version !== undefined && viewerRowItemsCurrent(row, version, services.clock.now())) return row.items;
  return (await getVideoSummaries(services, row.ids, options)).items;
}
