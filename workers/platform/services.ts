import { getContainer } from "@cloudflare/containers";
import { type Cache, createKvCache } from "./cache.ts";
import type { Clock } from "./clock.ts";
import { type Config, loadConfig } from "./config.ts";
import { type Database, type DatabaseHandle, openDatabase } from "./db.ts";
import { enforceKvWriteRate } from "./kv-limits.ts";
import { createLogger, type LogFields, type Logger } from "./logger.ts";
import { createMediaEdge } from "./media-edge.ts";
import { createMediaStore, type MediaStore } from "./media-store.ts";
import { createMetrics, type Metrics } from "./metrics.ts";

/** A message on one of the Worker's queues: each service defines its own kinds. */
export interface QueueMessageBase {
  kind: string;
}

/** Cloudflare's Rate Limiting bindings, by what they count (limits in wrangler.toml). */
export interface RateLimiters {
  /** Sign-in attempts per client address. */
  signinClient: RateLimit;
  /** Sign-in attempts per account from one client address. */
  signinAccountClient: RateLimit;
  /** Failed sign-ins per account, from every address. */
  signinAccountFailures: RateLimit;
  /** Sign-ups per client address (each costs an Argon2id hash). */
  signupClient: RateLimit;
  /** Browse routes, per account. */
  catalogUser: RateLimit;
  /** `GET /v1/videos/{id}/play`, per account. */
  play: RateLimit;
  /** `PUT|GET /v1/videos/{id}/progress`, per account. */
  progress: RateLimit;
  /** `POST /v1/qoe` (player beacons), per account. */
  qoe: RateLimit;
}

type ViewerStateStub = ReturnType<Env["VIEWER_STATE"]["get"]>;
type UploadSessionStub = ReturnType<Env["UPLOAD_SESSION"]["get"]>;

/**
 * Everything a handler, a queue consumer, a Durable Object or a cron run uses, built in one place
 * (`createServices`). Services receive it; none of them reads the raw `env`.
 */
export interface Services {
  readonly config: Config;
  /** Structured logs carrying the scope's fields (the request id, the queue message, …). */
  readonly log: Logger;
  /** Analytics Engine datapoints: requests, transcode tasks, player QoE (docs/operations.md). */
  readonly metrics: Metrics;
  /** The entry point's clock: read it for "now", in code and in queries. */
  readonly clock: Clock;
  /** Primary: writes, and reads that must see the request's own writes. Opened on first use. */
  readonly db: Database;
  /** Read replica (`DATABASE_READ_URL`): reads that may lag by a moment. Opened on first use. */
  readonly readDb: Database;
  /** KV, write-around; keys are declared by the services that own them. */
  readonly cache: Cache;
  /** R2: masters, renditions, posters, storyboards. */
  readonly media: MediaStore;
  readonly transcodeQueue: Queue<QueueMessageBase>;
  /** Per-user copies on their way to Postgres (workers/user-copies/); the dead-letter consumer sends them back here. */
  readonly userCopiesQueue: Queue<unknown>;
  readonly rateLimiters: RateLimiters;
  /** The user's `ViewerState` Durable Object: sessions, account and subscription copies, watch progress, screen leases. */
  viewerState(userId: string): ViewerStateStub;
  /**
   * The `ViewerState` whose id (64 hex digits, as a refresh token carries it) is `objectId`, or
   * undefined for an id this namespace did not make: the runtime checks it without a call.
   */
  viewerStateById(objectId: string): ViewerStateStub | undefined;
  /** One tus upload's `UploadSession` Durable Object. */
  uploadSession(uploadId: string): UploadSessionStub;
  /** The transcoder container named `name` (production only: undefined where the binding is absent). */
  transcoderContainer(name: string): { fetch(request: Request): Promise<Response> } | undefined;
  /**
   * Keeps the invocation alive for background work (cache fills, a copy written behind); `close()`
   * waits for it before it closes the database pools, so background queries are not cut off.
   */
  waitUntil(promise: Promise<unknown>): void;
}

/** Services plus the means to release what they opened (database pools). */
export interface ServicesScope extends Services {
  /** Closes the database pools this scope opened; resolves when their sockets are closed. */
  close(): Promise<void>;
}

/**
 * The deadline of a database use no viewer waits on: the user-copies consumer's one transaction
 * for a batch of up to 100 messages, and the cron's sweeps. `DATABASE_TIMEOUT_MS` (3 s) bounds
 * what a request waits; a batch that takes longer is still progress, and a hung database still
 * ends it well inside the consumer's 15-minute wall clock (the batch is retried).
 */
export const BACKGROUND_DATABASE_TIMEOUT_MS = 20_000;

export interface ServicesOptions {
  /** The clock the entry point was composed with (`systemClock` in production). */
  clock: Clock;
  /** Fields every log line of this scope carries (`requestId`, `queue`, `durableObject`, …). */
  logFields?: LogFields;
  /** Cache reads miss (writes still invalidate): outside production, for benchmarks and debugging. */
  bypassCacheReads?: boolean;
  /** Overrides `DATABASE_TIMEOUT_MS` for work no viewer waits on (`BACKGROUND_DATABASE_TIMEOUT_MS`). */
  databaseTimeoutMs?: number;
  /** The data center running the request (`request.cf.colo`): names its caches where data centers are simulated. */
  dataCenter?: string;
}

/** What `createServices` needs of an execution context: a Worker's, or a Durable Object's state. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * The composition root: builds the services of one unit of work (an HTTP request, a queue
 * message, a Durable Object call or alarm, a cron run) from the environment. Configuration is
 * parsed once per isolate; database pools open on first use and live until `close()`, because
 * Workers cannot share sockets between invocations.
 *
 * @example
 * const services = await createServices(env, ctx, { clock, logFields: { queue: batch.queue } });
 * try { await handle(message, services); } finally { ctx.waitUntil(services.close()); }
 */
export async function createServices(env: Env, ctx: WaitUntil, options: ServicesOptions): Promise<ServicesScope> {
  const config = await loadConfig(env);
  const log = createLogger(options.logFields);
  const background: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => {
    background.push(promise);
    ctx.waitUntil(promise);
  };
  const handles: DatabaseHandle[] = [];
  const open = (url: string) => {
    const handle = openDatabase(url, {
      wsProxy: config.DATABASE_WS_PROXY,
      timeoutMs: options.databaseTimeoutMs ?? config.DATABASE_TIMEOUT_MS,
      log,
    });
    handles.push(handle);
    return handle.db;
  };
  let primary: Database | undefined;
  let replica: Database | undefined;
  const container = env.TRANSCODER;
  const services: ServicesScope = {
    config,
    log,
    metrics: createMetrics(env.METRICS as AnalyticsEngineDataset | undefined, (env.VERSION as WorkerVersionMetadata | undefined)?.id),
    clock: options.clock,
    get db() {
      primary ??= open(config.DATABASE_URL);
      return primary;
    },
    get readDb() {
      if (config.databaseReadUrl === config.DATABASE_URL) return services.db;
      replica ??= open(config.databaseReadUrl);
      return replica;
    },
    // Outside production, KV refuses a second write of a key within a second, as production does
    // (a second by the services' clock: a test that moves it has let that second pass).
    cache: createKvCache(config.APP_ENV === "production" ? env.CACHE : enforceKvWriteRate(env.CACHE, () => options.clock.now()), {
      bypassReads: options.bypassCacheReads === true && config.APP_ENV !== "production",
      clock: options.clock,
      waitUntil,
      log,
    }),
    media: createMediaStore(env.MEDIA, {
      edgeOrigin: config.PUBLIC_BASE_URL,
      // miniflare has no Workers Cache and one data center: development and tests simulate both.
      edge: createMediaEdge({ simulated: config.APP_ENV === "development" || config.APP_ENV === "test", dataCenter: options.dataCenter }),
    }),
    transcodeQueue: env.TRANSCODE_QUEUE as Queue<QueueMessageBase>,
    userCopiesQueue: env.USER_COPIES_QUEUE,
    rateLimiters: {
      signinClient: env.SIGNIN_CLIENT_LIMITER,
      signinAccountClient: env.SIGNIN_ACCOUNT_CLIENT_LIMITER,
      signinAccountFailures: env.SIGNIN_ACCOUNT_FAILURE_LIMITER,
      signupClient: env.SIGNUP_CLIENT_LIMITER,
      catalogUser: env.CATALOG_USER_LIMITER,
      play: env.PLAY_LIMITER,
      progress: env.PROGRESS_LIMITER,
      qoe: env.QOE_LIMITER,
    },
    viewerState: (userId) => env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(userId)),
    viewerStateById: (objectId) => {
      let id: DurableObjectId;
      try {
        id = env.VIEWER_STATE.idFromString(objectId);
      } catch {
        return undefined;
      }
      return env.VIEWER_STATE.get(id);
    },
    uploadSession: (uploadId) => env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(uploadId)),
    transcoderContainer: (name) => {
      if (!container) return undefined;
      const stub = getContainer(container, name);
      return { fetch: (request) => stub.fetch(request) };
    },
    waitUntil,
    async close() {
      await Promise.allSettled(background);
      const closing = handles.splice(0);
      await Promise.allSettled(closing.map((handle) => handle.close()));
    },
  };
  return services;
}

/**
 * Runs `work` with services for one unit of work, and closes them after (in the background, so the
 * caller's answer is not held up by socket teardown).
 */
export async function withServices<T>(
  env: Env,
  ctx: WaitUntil,
  options: ServicesOptions,
  work: (services: Services) => Promise<T>,
): Promise<T> {
  const services = await createServices(env, ctx, options);
  try {
    return await work(services);
  } finally {
    ctx.waitUntil(services.close());
  }
}
