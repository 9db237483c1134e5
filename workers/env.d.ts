// Secrets and optional settings: `wrangler types` only sees [vars], so these are declared here
// for both the global `Env` and `cloudflare:workers`' `env`. Values are checked with zod in
// workers/platform/config.ts.
interface ReelstreamSecrets {
  /** Primary Postgres (Neon) connection string. Secret. */
  DATABASE_URL: string;
  /** Read replica for reads that may lag; defaults to DATABASE_URL. Secret. */
  DATABASE_READ_URL?: string;
  /** Local development only: the WebSocket-to-TCP proxy in front of a local Postgres (host:port/path). */
  DATABASE_WS_PROXY?: string;
  /** JSON `{ "keys": [private ES256 JWKs with kid] }`; the first signs, all verify. Secret. */
  JWT_SIGNING_KEYS: string;
  /** JSON `{ "keys": [{ "kid", "secret" (base64url, >= 32 bytes) }] }`: HMAC keys of media URLs; the first signs, all verify. Secret. */
  MEDIA_SIGNING_KEYS: string;
  /** Lifetime of a signed media URL in seconds (default 14400). */
  MEDIA_TOKEN_TTL_SECONDS?: string;
  /** A screen lease without a progress heartbeat for this long is released (default 45). */
  STREAM_LEASE_SECONDS?: string;
  /** Seconds between the first unsaved progress heartbeat and its batch write to Postgres (default 120). */
  PROGRESS_FLUSH_SECONDS?: string;
  /** HMAC key (>= 32 characters) of the per-job storage grants the transcoder presents to /internal/storage. Secret. */
  INTERNAL_SIGNING_SECRET: string;
  /** Where the queue consumer posts transcode jobs (local Node transcoder); unset: the TRANSCODER container. */
  TRANSCODER_URL?: string;
}

interface Env extends ReelstreamSecrets {}

declare namespace Cloudflare {
  interface Env extends ReelstreamSecrets {}
}
