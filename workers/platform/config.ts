import { type CryptoKey, importJWK, type JWK } from "jose";
import { z } from "zod";
import { type ContainerInstanceType, containerInstanceTypes, isContainerInstanceType } from "./container-instances.ts";
import { fromBase64url } from "./crypto.ts";

const privateJwk = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  kid: z.string().min(1),
  x: z.string(),
  y: z.string(),
  d: z.string(),
});

/** An HMAC key for media URLs: `secret` is base64url of at least 32 random bytes. */
const mediaKey = z.object({
  kid: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "a media key's kid is 1-32 characters of [A-Za-z0-9_-]"),
  secret: z.string().regex(/^[A-Za-z0-9_-]{43,}$/, "a media key's secret is base64url of at least 32 bytes"),
});

/** A secret holding JSON of `shape`; each failure names the secret. */
function jsonSecret<T extends z.ZodType>(name: string, shape: T) {
  return z
    .string()
    .min(1, `${name} is not set (a secret; see docs/operations.md)`)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${name} is not JSON` });
        return z.NEVER;
      }
    })
    .pipe(shape);
}

/**
 * A user's object sends its watch progress to the user-copies queue this long after the first
 * unsent heartbeat: one message per viewer per flush. One queue takes 5,000 messages a second
 * (Cloudflare Queues' per-queue throughput limit), so 1,000,000 concurrent viewers need at least
 * 200 s; 300 s (3,333 a second) keeps a third of the queue free (docs/resilience.md, the arithmetic
 * `npm run bench:playback` prints). The object holds every heartbeat meanwhile: only Postgres's copy lags.
 */
export const PROGRESS_FLUSH_SECONDS_DEFAULT = 300;

const configSchema = z.object({
  APP_ENV: z.enum(["development", "test", "production"]),
  PUBLIC_BASE_URL: z.url(),
  // The access tokens' `iss`: the public origin unless set (one place names an environment's domain).
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1),
  // Access tokens live at most 5 minutes (docs/api.md): the hard bound on a signed-out token on browse routes.
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(300),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(3600)
    .max(90 * 86400),
  DATABASE_URL: z.string().min(1, "DATABASE_URL is not set (a secret; see docs/operations.md)"),
  DATABASE_READ_URL: z.string().min(1).optional(),
  DATABASE_WS_PROXY: z.string().min(1).optional(),
  JWT_SIGNING_KEYS: jsonSecret("JWT_SIGNING_KEYS", z.object({ keys: z.array(privateJwk).min(1) })),
  MEDIA_SIGNING_KEYS: jsonSecret("MEDIA_SIGNING_KEYS", z.object({ keys: z.array(mediaKey).min(1) })),
  // Media tokens: minutes to hours (docs/playback.md: what bounds sign-out and a lapsed plan).
  MEDIA_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86400).default(14400),
  // The cache media comes through from R2 (docs/playback.md "Delivery"): Workers Cache in front of
  // the media origin, tiered across data centers; or the data center's Cache API (the path before).
  MEDIA_EDGE_CACHE: z.enum(["workers-cache", "cache-api"]).default("workers-cache"),
  // A screen lease without a progress heartbeat for this long is released ("tens of seconds").
  STREAM_LEASE_SECONDS: z.coerce.number().int().min(10).max(600).default(45),
  // Watch progress reaches Postgres this long after the first unsaved heartbeat (one batch per user).
  PROGRESS_FLUSH_SECONDS: z.coerce.number().int().min(1).max(3600).default(PROGRESS_FLUSH_SECONDS_DEFAULT),
  // The deadline of every use of the database, connecting included (workers/platform/db.ts); past it the request answers 503.
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  // The transcoder's per-job storage grants are HMACs with this key.
  INTERNAL_SIGNING_SECRET: z
    .string({ error: "INTERNAL_SIGNING_SECRET is not set (a secret; see docs/operations.md)" })
    .min(32, "INTERNAL_SIGNING_SECRET must be at least 32 characters"),
  // What the transcoders at TRANSCODER_URLS require (`Authorization: Bearer …`, their own
  // TRANSCODER_TOKEN): a process on the same network must not hand them tasks. The stack sets both.
  TRANSCODER_TOKEN: z.string().min(32, "TRANSCODER_TOKEN must be at least 32 characters").optional(),
  // The local Node transcoders (comma-separated base URLs), each standing in for one container
  // instance; unset: the TRANSCODER container binding (production).
  TRANSCODER_URLS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const urls = (text ?? "")
        .split(",")
        .map((url) => url.trim().replace(/\/+$/, ""))
        .filter(Boolean);
      for (const url of urls) {
        if (!z.url({ protocol: /^https?$/ }).safeParse(url).success)
          ctx.addIssue({ code: "custom", message: `'${url}' is not an http(s) URL` });
      }
      return urls;
    }),
  // Production limits, as configuration with their real values (docs/transcoding.md says which
  // limit each respects). The container instance type, as in wrangler.toml: its vCPU and disk.
  TRANSCODER_INSTANCE_TYPE: z
    .string()
    .default("standard-4")
    .refine(isContainerInstanceType, { message: `must be one of ${Object.keys(containerInstanceTypes).join(", ")}` }),
  // How many transcoder instances run at once: wrangler.toml's max_instances (locally, the transcoders started).
  TRANSCODER_MAX_INSTANCES: z.coerce.number().int().min(1).max(1500).default(25),
  // A master longer than this is cut into ranges this long (at most 2 minutes).
  TRANSCODE_CHUNK_SECONDS: z.coerce.number().min(2).max(120).default(60),
  // A queue consumer invocation ends after 15 minutes of wall clock (Cloudflare Queues); the
  // consumer gives up on a message before this. Tests set it low.
  QUEUE_CONSUMER_WALL_CLOCK_SECONDS: z.coerce.number().int().min(1).max(900).default(900),
  // A running task whose transcoder has not called back for this long is stalled: the cron queues it again.
  TRANSCODE_TASK_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(90),
  // A task fails the job after this many attempts that failed (a refusal of the source fails it at once).
  TRANSCODE_TASK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  // How long a task waits before it looks for a free transcoder again the first time; each wait
  // after doubles it, up to TRANSCODE_CAPACITY_WAIT_MAX_SECONDS (a freed instance takes the
  // longest-waiting task at once, so the re-sends are only the safety net).
  TRANSCODE_CAPACITY_WAIT_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
  TRANSCODE_CAPACITY_WAIT_MAX_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  // One dispatch (trying instance after instance) gives up after this long and the task waits:
  // well under the consumer's 15 minutes, whatever the number of instances.
  TRANSCODE_DISPATCH_DEADLINE_SECONDS: z.coerce.number().int().min(1).max(600).default(120),
});

/**
 * The names the Worker cannot start without (no default, not optional): each must be a var in
 * wrangler.toml or a secret its environment's `secrets.required` lists (testing/deploy-config.test.ts).
 */
export function requiredConfigNames(): string[] {
  return Object.entries(configSchema.shape)
    .filter(([, schema]) => !schema.safeParse(undefined).success)
    .map(([name]) => name);
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface MediaSigningKey {
  kid: string;
  key: CryptoKey;
}

export type Config = Omit<
  z.output<typeof configSchema>,
  "JWT_SIGNING_KEYS" | "MEDIA_SIGNING_KEYS" | "TRANSCODER_INSTANCE_TYPE" | "JWT_ISSUER"
> & {
  TRANSCODER_INSTANCE_TYPE: ContainerInstanceType;
  /** `JWT_ISSUER`, else `PUBLIC_BASE_URL`. */
  JWT_ISSUER: string;
  databaseReadUrl: string;
  /** First key signs; every key verifies (rotation: add the new key first, drop the old one after the token TTL). */
  signingKeys: SigningKey[];
  /** HMAC-SHA256 keys of media URLs; the first signs, all verify (same rotation as `signingKeys`). */
  mediaSigningKeys: MediaSigningKey[];
  /**
   * HMAC keys of list cursors, derived (HKDF) from the JWT signing keys in the same order: the
   * first signs, all verify, so a key rotation keeps cursors valid as it keeps tokens valid.
   */
  cursorKeys: CryptoKey[];
};

// Parsed once per env object (once per isolate in production); it holds keys, never connections.
const parsed = new WeakMap<object, Promise<Config>>();

/**
 * Reads and checks the Worker's environment (vars and secrets, one schema); a bad configuration
 * fails loudly, once, with a message naming each bad variable. The composition root
 * (`createServices`) is its only caller in product code.
 */
export function loadConfig(env: Env): Promise<Config> {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env);
    parsed.set(env, config);
    config.catch(() => parsed.delete(env));
  }
  return config;
}

async function parseConfig(env: Env): Promise<Config> {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`invalid configuration: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const { JWT_SIGNING_KEYS, MEDIA_SIGNING_KEYS, ...rest } = result.data;
  const signingKeys = await Promise.all(
    JWT_SIGNING_KEYS.keys.map(async (jwk) => {
      const { d: _private, ...publicJwk } = jwk;
      const pub: JWK = { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y, kid: jwk.kid, alg: "ES256", use: "sig" };
      return {
        kid: jwk.kid,
        privateKey: (await importJWK({ ...jwk, alg: "ES256" }, "ES256")) as CryptoKey,
        publicKey: (await importJWK(pub, "ES256")) as CryptoKey,
        publicJwk: pub,
      };
    }),
  );
  const mediaSigningKeys = await Promise.all(
    MEDIA_SIGNING_KEYS.keys.map(async ({ kid, secret }) => ({
      kid,
      key: await crypto.subtle.importKey("raw", keyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
    })),
  );
  const cursorKeys = await Promise.all(JWT_SIGNING_KEYS.keys.map(({ d }) => deriveCursorKey(d)));
  return {
    ...rest,
    TRANSCODER_INSTANCE_TYPE: rest.TRANSCODER_INSTANCE_TYPE as ContainerInstanceType,
    JWT_ISSUER: rest.JWT_ISSUER ?? rest.PUBLIC_BASE_URL,
    databaseReadUrl: rest.DATABASE_READ_URL ?? rest.DATABASE_URL,
    signingKeys,
    mediaSigningKeys,
    cursorKeys,
  };
}

/** An HMAC key for cursors from a JWT key's private scalar, so cursors need no secret of their own. */
async function deriveCursorKey(privateScalar: string): Promise<CryptoKey> {
  const secret = fromBase64url(privateScalar);
  if (!secret) throw new Error("JWT_SIGNING_KEYS: a key's `d` is not base64url");
  const material = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("reelstream cursor v1") },
    material,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** A media key's secret, already checked to be base64url by the schema. */
function keyBytes(secret: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64url(secret);
  if (!bytes) throw new Error("MEDIA_SIGNING_KEYS: a key's secret is not base64url");
  return bytes;
}
