import { requestId } from "hono/request-id";
import { createHealthRouter } from "./health/index.ts";
import { createMyListRouter, readMyList } from "./my-list/index.ts";
import { apiReferencePage } from "./platform/api-reference.ts";
import { createRouter } from "./platform/app.ts";
import { STALE_HEADER } from "./platform/cache.ts";
import { type Clock, systemClock } from "./platform/clock.ts";
import { ApiError } from "./platform/errors.ts";
import { handleError, problemResponse } from "./platform/http-errors.ts";
import { sweepDeletedMasters } from "./platform/master-retention.ts";
import { allowedMethods } from "./platform/method-not-allowed.ts";
import { initServices } from "./platform/request-services.ts";
import { requestTelemetry } from "./platform/request-telemetry.ts";
import { securityHeaders } from "./platform/security-headers.ts";
import { BACKGROUND_DATABASE_TIMEOUT_MS, type Services, withServices } from "./platform/services.ts";
import { createPlaybackRouter, readContinueWatching } from "./playback/index.ts";
import { handleQueueBatch, type QueueMessage } from "./queue.ts";
import { readMoreLikeThis, readRecommendedRows, refreshRecommendedRows } from "./recommendations/index.ts";
import { createSearchRouter } from "./search/index.ts";
import { createSubscriptionsRouter, fillSubscription, syncSubscriptionCopies } from "./subscriptions/index.ts";
import { checkTranscodeLeases, createTranscodingRouter, transcodeStatus } from "./transcoding/index.ts";
import { createUploadsRouter } from "./uploads/index.ts";
import { createUsersRouter, syncAccountCopies } from "./users/index.ts";
import { createVideosRouter } from "./videos/index.ts";

// The outbound handler of the transcoder's containers runs in ContainerProxy, which the Worker must export.
export { ContainerProxy } from "@cloudflare/containers";
export { TranscoderContainer } from "../durable-objects/transcoder-container.ts";
export { UploadSession } from "../durable-objects/upload-session.ts";
export { ViewerState } from "../durable-objects/viewer-state.ts";
// The media origin behind Workers Cache (wrangler.toml `[exports.MediaOrigin]`; docs/playback.md "Delivery").
export { MediaOrigin } from "./playback/index.ts";

/** The HTTP app, its services built per request on `clock`. */
export function createApp({ clock }: { clock: Clock }) {
  const app = createRouter();
  app.use("*", requestId({ generator: () => crypto.randomUUID() }));
  // nosniff, a policy, Referrer-Policy and Permissions-Policy on every answer (the web app's files get them from `_headers`).
  app.use("*", securityHeaders());
  // Body limits are declared per route (`jsonBodyLimit` in each JSON route's middleware; uploads keep their own).
  app.use("*", initServices({ clock }));
  // A datapoint per request, and a log line for each that failed or was slow (docs/operations.md).
  app.use("*", requestTelemetry());
  // An answer that serves a copy past its freshness because Postgres could not be reached says so (docs/api.md).
  app.use("*", async (c, next) => {
    await next();
    const staleAge = c.var.services?.cache.staleAgeSeconds();
    if (staleAge !== undefined) c.header(STALE_HEADER, String(staleAge));
  });

  app.route("/", createHealthRouter());
  app.route("/", createUsersRouter({ subscriptionOf: fillSubscription }));
  app.route("/", createSubscriptionsRouter());
  app.route(
    "/",
    createVideosRouter({
      continueWatching: readContinueWatching,
      myList: readMyList,
      transcodeStatus,
      recommendedRows: readRecommendedRows,
      moreLikeThis: readMoreLikeThis,
    }),
  );
  app.route("/", createPlaybackRouter());
  app.route("/", createMyListRouter());
  app.route("/", createSearchRouter());
  app.route("/", createUploadsRouter());
  // Not in /openapi.json: the transcoder's access to R2 and its callbacks, with per-task grants (docs/transcoding.md).
  app.route("/", createTranscodingRouter());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Reelstream API",
      version: "1.0.0",
      description: "Edge-first video streaming backend. Errors are RFC 9457 problem+json.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/docs", async (c) => {
    const page = await apiReferencePage({ title: "Reelstream API", specUrl: "/openapi.json" });
    return c.body(page.html, 200, page.headers);
  });

  const methodsFor = allowedMethods(app);
  app.notFound((c) => {
    const allowed = methodsFor(c.req.path);
    if (allowed.length > 0) {
      return problemResponse(
        c,
        new ApiError("method-not-allowed", `${c.req.method} is not supported here; use ${allowed.join(", ")}.`, {
          headers: { Allow: allowed.join(", ") },
        }),
      );
    }
    return problemResponse(c, new ApiError("not-found", `There is nothing at ${c.req.path}.`));
  });
  app.onError(handleError);
  return app;
}

/**
 * A recomputation of the rows over every title and view may take this long before it is abandoned:
 * `bench:rows` measured minutes for 1,000,000 views on a crowded machine. A cron invocation may run
 * 15 minutes; each kind is claimed before it starts, so the next minute's run does not repeat it.
 */
const ROWS_DATABASE_TIMEOUT_MS = 600_000;

/**
 * What the cron runs every minute, each task with its own services and logs, none stopping another:
 * - `transcode-leases`: tasks whose transcoder stopped calling back are queued again;
 * - `account-copies`, `subscription-copies`: accounts and subscriptions changed where no push
 *   followed (a script, a push that failed) are copied into their users' objects;
 * - `deleted-masters`: masters deleted `MASTER_RETENTION_DAYS` ago are removed from R2;
 * - `recommended-rows`: the rows that recommend, recomputed from the copy of progress when their
 *   interval has passed, and what changed published to KV (workers/recommendations/). Its
 *   statements read whole tables, so it may wait on the database longer (`ROWS_DATABASE_TIMEOUT_MS`).
 */
async function runCronTasks(env: Env, ctx: ExecutionContext, clock: Clock): Promise<void> {
  const tasks: Record<string, (services: Services) => Promise<unknown>> = {
    "transcode-leases": checkTranscodeLeases,
    "account-copies": syncAccountCopies,
    "subscription-copies": syncSubscriptionCopies,
    "deleted-masters": sweepDeletedMasters,
    "recommended-rows": refreshRecommendedRows,
  };
  const timeouts: Record<string, number> = { "recommended-rows": ROWS_DATABASE_TIMEOUT_MS };
  const results = await Promise.allSettled(
    Object.entries(tasks).map(([cron, task]) =>
      withServices(env, ctx, { clock, logFields: { cron }, databaseTimeoutMs: timeouts[cron] ?? BACKGROUND_DATABASE_TIMEOUT_MS }, task),
    ),
  );
  const failed = results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
  if (failed.length > 0) throw new AggregateError(failed, `${failed.length} of the cron's tasks failed`);
}

/**
 * The Worker's handlers, every one on `clock`: HTTP (`app`, by default `createApp({ clock })`), the
 * queue consumer, and the cron trigger (wrangler.toml `[triggers]`, every minute: `runCronTasks`;
 * locally the stack calls it, miniflare runs no crons). The Durable Objects take the same clock from their constructor.
 *
 * @example
 * export default createWorker({ clock: systemClock });
 */
export function createWorker({ clock, app = createApp({ clock }) }: { clock: Clock; app?: ReturnType<typeof createApp> }) {
  return {
    fetch: app.fetch,
    queue: (batch, env, ctx) => handleQueueBatch(batch, env, ctx, { clock }),
    async scheduled(_controller, env, ctx) {
      await runCronTasks(env, ctx, clock);
    },
  } satisfies ExportedHandler<Env, QueueMessage>;
}

export default createWorker({ clock: systemClock });
