import { createRouter } from "../platform/app.ts";
import { createCallbackRouter } from "./callbacks.ts";
import { createInternalStorageRouter } from "./internal-storage.ts";

export { handleDeadTranscodeTaskMessage, handleTranscodeTaskMessage } from "./consumer.ts";
export { checkTranscodeLeases } from "./leases.ts";
export { jobTasks, latestJob, type TranscodeTaskMessage } from "./service.ts";
export { startTranscodeJob } from "./start.ts";
export { transcodeStatus } from "./status.ts";

/** The dead-letter queue of `reelstream-transcode` (wrangler.toml). */
export const TRANSCODE_DLQ = "reelstream-transcode-dlq";

/**
 * The transcoding service: a complete master becomes a job of tasks (plan, chunks, audio,
 * finalize; the wire in `contract.ts`, each kind in `task-kinds.ts`), dispatched by the queue
 * consumer to free transcoder instances, reported back by callback, watched and repaired by the
 * cron. Its routes are the transcoder's alone: `/internal/storage` (R2 with a task's grant) and
 * `/internal/transcode/callback`; neither is part of the public API.
 */
export function createTranscodingRouter() {
  const app = createRouter();
  app.route("/", createInternalStorageRouter());
  app.route("/", createCallbackRouter());
  return app;
}
