// Secrets and optional settings: `wrangler types` only sees [vars], so these are declared here.
// Values are checked once with zod in workers/lib/config.ts.
interface Env {
  /** Primary Postgres (Neon) connection string. Secret. */
  DATABASE_URL: string;
  /** Read replica for reads that may lag; defaults to DATABASE_URL. Secret. */
  DATABASE_READ_URL?: string;
  /** Local development only: the WebSocket-to-TCP proxy in front of a local Postgres (host:port/path). */
  DATABASE_WS_PROXY?: string;
  /** JSON `{ "keys": [private ES256 JWKs with kid] }`; the first signs, all verify. Secret. */
  JWT_SIGNING_KEYS: string;
}
