// Secrets and optional settings: `wrangler types` only sees [vars], so these are declared here
// for both the global `Env` and `cloudflare:workers`' `env`. Values are checked with zod in
// workers/lib/config.ts.
interface ReelstreamSecrets {
  /** Primary Postgres (Neon) connection string. Secret. */
  DATABASE_URL: string;
  /** Read replica for reads that may lag; defaults to DATABASE_URL. Secret. */
  DATABASE_READ_URL?: string;
  /** Local development only: the WebSocket-to-TCP proxy in front of a local Postgres (host:port/path). */
  DATABASE_WS_PROXY?: string;
  /** JSON `{ "keys": [private ES256 JWKs with kid] }`; the first signs, all verify. Secret. */
  JWT_SIGNING_KEYS: string;
}

interface Env extends ReelstreamSecrets {}

declare namespace Cloudflare {
  interface Env extends ReelstreamSecrets {}
}
