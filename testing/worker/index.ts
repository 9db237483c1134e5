/**
 * The test Worker: the production app (workers/index.ts) plus the test-only routes, on the test
 * clock (testing/clock.ts), with the Durable Objects on that clock too. It is never deployed: the
 * Worker's workerd tests run it (vitest.config.ts), and the local-stack harness runs it for the
 * end-to-end tests and the benchmarks on a configuration generated from wrangler.toml with this
 * file as `main` (`testWorkerEntry` in testing/test-worker.ts); testing/production-bundle.test.ts
 * checks that the production bundle holds none of it.
 *
 * Two request headers, for `npm run bench:api`:
 * - `X-Test-Binding-Calls: count`: the request runs with its bindings counted (testing/binding-calls.ts)
 *   and Postgres unreachable; the answer carries the counts in `X-Test-Binding-Calls` (JSON).
 * - `X-Test-Rate-Limiters: in-memory`: the rate limiters count in this isolate's memory, as
 *   Cloudflare's binding does in production, instead of miniflare's Durable Object round trip.
 *
 * And three for `npm run bench:delivery` (./media-counters.ts): `X-Test-Media-Counters: count`
 * counts a media request's R2 reads and Durable Object calls, `X-Test-Data-Center` puts the request
 * in a data center (`request.cf.colo`, which names its caches in the local stack's simulation of
 * them), `X-Test-Media-Edge-Cache` picks its delivery path.
 */
import { UploadSession as ProductionUploadSession } from "../../durable-objects/upload-session.ts";
import { acknowledgementOf, type UserCopiesAck, type UserCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import { ViewerState as ProductionViewerState } from "../../durable-objects/viewer-state.ts";
import { createApp, createWorker, MediaOrigin as ProductionMediaOrigin } from "../../workers/index.ts";
import { withServices } from "../../workers/platform/services.ts";
import type { QueueMessage } from "../../workers/queue.ts";
import { isUserCopiesQueue } from "../../workers/user-copies/index.ts";
import { writeProgressCopies } from "../../workers/user-copies/progress-copies.ts";
import {
  BINDING_CALLS_HEADER,
  countingEnv,
  noCalls,
  RATE_LIMITERS_HEADER,
  rateLimiterNames,
  UNREACHABLE_DATABASE_URL,
} from "../binding-calls.ts";
import { testClock } from "../clock.ts";
import { sentUserCopies, USER_COPIES_BY_HAND } from "../user-copies.ts";
import {
  countedMediaEnv,
  DATA_CENTER_HEADER,
  MEDIA_COUNTERS_HEADER,
  MEDIA_EDGE_CACHE_HEADER,
  mediaCounters,
  withMediaEdgeCache,
} from "./media-counters.ts";
import { registerTestRoutes } from "./test-routes.ts";

// The other classes wrangler.toml binds, as production has them.
export { TranscoderContainer } from "../../workers/index.ts";

/** The production media origin, its runs and R2 reads counted (the benchmark reads them). */
export class MediaOrigin extends ProductionMediaOrigin {
  constructor(ctx: ExecutionContext, env: Env) {
    super(ctx, countedMediaEnv(env));
  }

  override fetch(request: Request): Promise<Response> {
    mediaCounters.originRuns++;
    return super.fetch(request);
  }
}

const DIRECT_WRITES_KEY = "test-direct-writes";

export class ViewerState extends ProductionViewerState {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, testClock);
  }

  /** The acknowledgement of a direct write, applied once the alarm that wrote it has finished. */
  private directAck: UserCopiesAck | undefined;

  /**
   * Sent as in production, and written down for the Worker's tests (testing/user-copies.ts). In
   * direct mode (`npm run bench:playback`'s "before"), written to Postgres by the object itself
   * instead: a pool and a transaction per flush, the path the queue replaced.
   */
  protected override async sendCopies(message: UserCopiesMessage): Promise<void> {
    if (await this.ctx.storage.get<boolean>(DIRECT_WRITES_KEY)) {
      await withServices(
        this.env,
        this.ctx,
        { clock: testClock, logFields: { durableObject: "ViewerState" }, databaseTimeoutMs: 10_000 },
        (services) => services.db.transaction((tx) => writeProgressCopies(tx, [message])),
      );
      this.directAck = acknowledgementOf(message);
      return;
    }
    await super.sendCopies(message);
    sentUserCopies.push(message);
  }

  override async alarm(): Promise<void> {
    await super.alarm();
    const ack = this.directAck;
    this.directAck = undefined;
    if (ack) await this.copiesWritten(ack);
  }

  /**
   * Test-only controls, as a `fetch` so that the production class's stub type serves them:
   * `POST /direct-writes/on` or `/off` (kept in storage: an object evicted meanwhile keeps it), and
   * `POST /flush` (runs the alarm now: `bench:playback` flushes every viewer at once, as a million
   * viewers' flushes arrive together).
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response(null, { status: 405 });
    const path = new URL(request.url).pathname;
    const switched = /^\/direct-writes\/(on|off)$/.exec(path);
    if (switched) await this.ctx.storage.put(DIRECT_WRITES_KEY, switched[1] === "on");
    else if (path === "/flush") await this.alarm();
    else return new Response(null, { status: 404 });
    return new Response(null, { status: 204 });
  }
}

export class UploadSession extends ProductionUploadSession {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, testClock);
  }
}

const app = createApp({ clock: testClock });
registerTestRoutes(app);
const worker = createWorker({ clock: testClock, app });

/** A fixed-window counter in memory: what the Rate Limiting binding does in production, without miniflare's round trip. */
function inMemoryLimiter(limit: number, periodSeconds: number): RateLimit {
  const windows = new Map<string, { window: number; count: number }>();
  return {
    async limit({ key }) {
      const window = Math.floor(testClock.now() / (periodSeconds * 1000));
      const known = windows.get(key);
      const count = known?.window === window ? known.count : 0;
      if (count >= limit) return { success: false };
      windows.set(key, { window, count: count + 1 });
      return { success: true };
    },
  };
}

/** One environment per isolate's env (so configuration is parsed once), with in-memory limiters. */
const withLocalLimiters = new WeakMap<Env, Env>();
function localLimiters(env: Env): Env {
  let local = withLocalLimiters.get(env);
  if (!local) {
    local = { ...env, ...Object.fromEntries(rateLimiterNames(env).map((name) => [name, inMemoryLimiter(Number.MAX_SAFE_INTEGER, 60)])) };
    withLocalLimiters.set(env, local);
  }
  return local;
}

/** The request and environment as the benchmark's headers place them (./media-counters.ts). */
function placed(request: Request, env: Env): { request: Request; env: Env } {
  const colo = request.headers.get(DATA_CENTER_HEADER);
  const edgeCache = request.headers.get(MEDIA_EDGE_CACHE_HEADER);
  let placedEnv = edgeCache ? withMediaEdgeCache(env, edgeCache) : env;
  if (request.headers.get(MEDIA_COUNTERS_HEADER) === "count" && new URL(request.url).pathname.startsWith("/media/")) {
    mediaCounters.mediaRequests++;
    placedEnv = countedMediaEnv(placedEnv);
  }
  return { request: colo ? new Request(request, { cf: { ...request.cf, colo } } as RequestInit) : request, env: placedEnv };
}

/** The consumer as production runs it: what the Worker's tests deliver by hand (`deliverQueueMessage`, `deliverUserCopies`). */
export const queueConsumer = worker.queue;

export default {
  ...worker,
  async queue(batch: MessageBatch<QueueMessage>, env: Env, ctx: ExecutionContext) {
    const byHand = (env as Env & Record<string, unknown>)[USER_COPIES_BY_HAND] === "1";
    if (byHand && isUserCopiesQueue(batch.queue)) {
      batch.ackAll();
      return;
    }
    await worker.queue(batch, env, ctx);
  },
  async fetch(incoming: Request, incomingEnv: Env, ctx: ExecutionContext) {
    const { request, env } = placed(incoming, incomingEnv);
    if (request.headers.get(RATE_LIMITERS_HEADER) === "in-memory") return worker.fetch(request, localLimiters(env), ctx);
    if (request.headers.get(BINDING_CALLS_HEADER) !== "count") return worker.fetch(request, env, ctx);
    const calls = noCalls();
    const counted = countingEnv(env, calls, { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL });
    const response = await worker.fetch(request, counted, ctx);
    const answer = new Response(response.body, response);
    answer.headers.set(BINDING_CALLS_HEADER, JSON.stringify(calls));
    return answer;
  },
} satisfies ExportedHandler<Env, QueueMessage>;
