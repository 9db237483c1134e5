// Secrets and optional settings, for both the global `Env` and `cloudflare:workers`' `env`.
// `wrangler types` sees [vars] and the deployed environments' `secrets.required` (which it types as
// optional, the local top level listing none); every environment has those four, so they are
// declared required here. Values are checked with zod in workers/platform/config.ts.
interface ReelstreamSecrets {
  /** The access tokens' `iss`; default PUBLIC_BASE_URL (an environment's domain is named once). */
  JWT_ISSUER?: string;
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
  /** The cache media comes through: `workers-cache` (tiered, the default) or `cache-api` (the data center's). */
  MEDIA_EDGE_CACHE?: string;
  /** A screen lease without a progress heartbeat for this long is released (default 45). */
  STREAM_LEASE_SECONDS?: string;
  /** Seconds between the first unsaved progress heartbeat and its batch write to Postgres (default 120). */
  PROGRESS_FLUSH_SECONDS?: string;
  /** HMAC key (>= 32 characters) of the per-job storage grants the transcoder presents to /internal/storage. Secret. */
  INTERNAL_SIGNING_SECRET: string;
  /** The local Node transcoders, comma-separated base URLs; unset: the TRANSCODER container. */
  TRANSCODER_URLS?: string;
  /** Container instance type of the transcoder (wrangler.toml's instance_type); default standard-4. */
  TRANSCODER_INSTANCE_TYPE?: string;
  /** Transcoder instances at once (wrangler.toml's max_instances); default 25. */
  TRANSCODER_MAX_INSTANCES?: string;
  /** Chunk length of a chunked transcode, seconds (default 60, at most 120). */
  TRANSCODE_CHUNK_SECONDS?: string;
  /** The consumer's wall clock per message, seconds (Cloudflare: 900; tests set it low). */
  QUEUE_CONSUMER_WALL_CLOCK_SECONDS?: string;
  /** A running task without a callback for this long is queued again (default 90). */
  TRANSCODE_TASK_LEASE_SECONDS?: string;
  /** Attempts of a task before its failure fails the job (default 3). */
  TRANSCODE_TASK_MAX_ATTEMPTS?: string;
  /** Seconds a task waits before it looks for a free transcoder again the first time (default 10; doubling). */
  TRANSCODE_CAPACITY_WAIT_SECONDS?: string;
  /** The longest of those waits (default 300). */
  TRANSCODE_CAPACITY_WAIT_MAX_SECONDS?: string;
  /** One dispatch's total time, over every instance it tries (default 120). */
  TRANSCODE_DISPATCH_DEADLINE_SECONDS?: string;
}

interface Env extends ReelstreamSecrets {}

declare namespace Cloudflare {
  interface Env extends ReelstreamSecrets {}
}
