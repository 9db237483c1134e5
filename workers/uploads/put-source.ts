import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { masterKey } from "../platform/media-layout.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { videoIdParam } from "../videos/index.ts";
import { sourceAcceptedSchema } from "./schema.ts";
import { claimUploadSlot, queueTranscode, releaseUploadSlot } from "./service.ts";
import { SOURCE_PUT_CAP } from "./settings.ts";
import { newUploadId } from "./tus.ts";

const route = createRoute({
  method: "put",
  path: "/v1/admin/videos/{id}/source",
  tags: ["Admin", "Uploads"],
  summary: "Upload a small master in one body",
  description:
    `For files up to ${SOURCE_PUT_CAP / 2 ** 20} MiB: the body is the file, with Content-Length. It streams to storage and the ` +
    "video is queued for transcoding (202). Larger files, or unreliable connections: use the tus upload.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.upload), requireAuth, requireAdmin] as const,
  request: { params: videoIdParam },
  responses: {
    202: { description: "Stored and queued", content: { "application/json": { schema: sourceAcceptedSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 411, 413, 503),
  },
});

export function registerPutSource(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const header = c.req.header("Content-Length");
    if (header === undefined || !/^\d{1,16}$/.test(header)) {
      throw new ApiError("length-required", "Send Content-Length: the size of the file in bytes (storage needs it up front).");
    }
    const length = Number(header);
    if (length === 0) throw new ApiError("bad-request", "The body is empty: an empty file is not a video.");
    if (length > SOURCE_PUT_CAP) {
      throw new ApiError(
        "payload-too-large",
        `The file is ${length} bytes; PUT source takes at most ${SOURCE_PUT_CAP} bytes. Upload larger files with tus: POST /v1/admin/videos/${id}/uploads.`,
      );
    }
    const body = c.req.raw.body;
    if (!body) throw new ApiError("bad-request", "The body is empty: send the file.");
    const services = c.get("services");
    const { db, media } = services;
    // One upload like a tus one: its own slot claim and its own master key.
    const uploadId = newUploadId();
    const key = masterKey(id, uploadId);
    await claimUploadSlot(db, id, uploadId);
    let job: Awaited<ReturnType<typeof queueTranscode>>;
    try {
      // FixedLengthStream gives R2 the length it needs and fails the put if the body is short or long.
      await media.bucket.put(key, body.pipeThrough(new FixedLengthStream(length)));
    } catch (error) {
      await releaseUploadSlot(db, id, uploadId);
      services.log.warn("source upload failed", { videoId: id, error });
      throw new ApiError("bad-request", `The body did not match Content-Length ${length} or was interrupted; nothing was stored.`);
    }
    try {
      job = await queueTranscode(services, id, uploadId);
    } catch (error) {
      await releaseUploadSlot(db, id, uploadId);
      await media.bucket.delete(key);
      throw error;
    }
    if (!job) {
      await media.bucket.delete(key);
      throw new ApiError("not-found", `There is no video with id '${id}' any more.`);
    }
    return c.json({ videoId: id, state: "queued" as const, jobId: job.jobId, bytes: length }, 202);
  });
}
