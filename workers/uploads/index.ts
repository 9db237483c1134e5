import { createRouter } from "../platform/app.ts";
import { registerCreateUpload } from "./create-upload.ts";
import { registerPatchUpload } from "./patch-upload.ts";
import { registerPutSource } from "./put-source.ts";
import { registerTerminateUpload } from "./terminate-upload.ts";
import { tusCors, tusResumableHeader } from "./tus.ts";
import { registerUploadStatus } from "./upload-status.ts";

export type { UploadExpiredMessage } from "../../durable-objects/upload-session.ts";
export { handleUploadExpired } from "./service.ts";

/**
 * Uploads: tus 1.0.0 (core, creation, termination) and one-body PUT of a master. A complete
 * master starts a transcode job (workers/transcoding).
 */
export function createUploadsRouter() {
  const app = createRouter();
  for (const path of ["/v1/admin/videos/:id/uploads", "/v1/admin/uploads/*"]) {
    app.use(path, tusResumableHeader);
    app.use(path, tusCors);
  }
  registerCreateUpload(app);
  registerUploadStatus(app);
  registerPatchUpload(app);
  registerTerminateUpload(app);
  registerPutSource(app);
  return app;
}
