import { requestId } from "hono/request-id";
import { createHealthRouter } from "./health/index.ts";
import { apiReferencePage } from "./platform/api-reference.ts";
import { createRouter } from "./platform/app.ts";
import { ApiError } from "./platform/errors.ts";
import { handleError, problemResponse } from "./platform/http-errors.ts";
import { allowedMethods } from "./platform/method-not-allowed.ts";
import { initServices } from "./platform/request-services.ts";
import { withServices } from "./platform/services.ts";
import { continueWatching, createPlaybackRouter } from "./playback/index.ts";
import { handleQueueBatch, type QueueMessage } from "./queue.ts";
import { createSearchRouter } from "./search/index.ts";
import { createSubscriptionsRouter, getSubscription } from "./subscriptions/index.ts";
import { checkTranscodeLeases, createTranscodingRouter, transcodeStatus } from "./transcoding/index.ts";
import { createUploadsRouter } from "./uploads/index.ts";
import { createUsersRouter } from "./users/index.ts";
import { createVideosRouter } from "./videos/index.ts";

export { TranscoderContainer } from "../durable-objects/transcoder-container.ts";
export { UploadSession } from "../durable-objects/upload-session.ts";
export { ViewerState } from "../durable-objects/viewer-state.ts";

export function createApp() {
  const app = createRouter();
  app.use("*", requestId({ generator: () => crypto.randomUUID() }));
  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
  });
  // Body limits are declared per route (`jsonBodyLimit` in each JSON route's middleware; uploads keep their own).
  app.use("*", initServices);

  app.route("/", createHealthRouter());
  app.route("/", createUsersRouter({ subscriptionOf: (services, userId) => getSubscription(services.db, userId) }));
  app.route("/", createSubscriptionsRouter());
  app.route("/", createVideosRouter({ continueWatching, transcodeStatus }));
  app.route("/", createPlaybackRouter());
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

const app = createApp();

/**
 * The cron trigger (wrangler.toml `[triggers]`, every minute): transcode tasks whose transcoder
 * stopped calling back are queued again. Locally the stack calls it (miniflare runs no crons).
 */
async function scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  await withServices(env, ctx, { logFields: { cron: "transcode-leases" } }, (services) => checkTranscodeLeases(services));
}

export default {
  fetch: app.fetch,
  queue: handleQueueBatch,
  scheduled,
} satisfies ExportedHandler<Env, QueueMessage>;
