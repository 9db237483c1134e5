import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** Local state: embedded Postgres data, miniflare's KV/R2/DO/queue data, the dev lock. */
export const stateDir = process.env.REELSTREAM_STATE_DIR ?? `${repoRoot}.reelstream`;
export const pgDataDir = `${stateDir}/pgdata`;
