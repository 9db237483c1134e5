import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Fenced, UploadRecord, UploadSession } from "../../durable-objects/upload-session.ts";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { retireMaster } from "../platform/master-retention.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import type { Services } from "../platform/services.ts";
import { BodyPastUploadLength, UploadFenced, writePatchBody } from "./part-writer.ts";
import { uploadIdParam } from "./schema.ts";
import { queueTranscode, recordUploadProgress } from "./service.ts";
import { PATCH_BODY_CAP } from "./settings.ts";
import { httpDate, integerHeader, requireTusResumable, TUS_CONTENT_TYPE, uploadGone, uploadNotFound, uploadSession } from "./tus.ts";

const route = createRoute({
  method: "patch",
  path: "/v1/admin/uploads/{uploadId}",
  tags: ["Admin", "Uploads"],
  summary: "Append bytes to an upload (tus core PATCH)",
  description:
    "Send `Content-Type: application/offset+octet-stream`, `Tus-Resumable: 1.0.0` and `Upload-Offset` equal to the upload's " +
    "current offset (409 otherwise, with the current `Upload-Offset`). Any chunk size works; a body longer than " +
    `${PATCH_BODY_CAP / 2 ** 20} MiB is read up to that size and the answer's \`Upload-Offset\` says where to continue. ` +
    "A body that goes past `Upload-Length` is refused with 413 (never cut short); the answer's `Upload-Offset` says what was kept. " +
    "The last byte queues the video for transcoding.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.upload), requireAuth, requireAdmin] as const,
  request: { params: uploadIdParam },
  responses: {
    204: { description: "Bytes stored: the new `Upload-Offset`" },
    ...problemResponses(400, 401, 403, 404, 409, 410, 412, 413, 415, 503),
  },
});

export function registerPatchUpload(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    requireTusResumable(c);
    const { uploadId } = c.req.valid("param");
    const contentType = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
    if (contentType !== TUS_CONTENT_TYPE) {
      throw new ApiError("unsupported-media-type", `Send the bytes with Content-Type: ${TUS_CONTENT_TYPE}.`);
    }
    const offset = integerHeader(c, "Upload-Offset");
    if (offset === undefined) throw new ApiError("bad-request", "Send Upload-Offset: the upload's current offset (HEAD tells it).");
    const contentLength = integerHeader(c, "Content-Length");
    const services = c.get("services");
    const session = uploadSession(services, uploadId);
    const begin = await session.beginWrite(offset);
    if (!begin.ok) {
      if (!begin.record) throw uploadNotFound(uploadId);
      if (begin.reason === "gone") throw uploadGone(begin.record);
      const current = String(begin.record.offset);
      if (begin.reason === "busy") {
        throw new ApiError(
          "conflict",
          "Another PATCH to this upload is still being written. Retry after it ends (HEAD gives the offset).",
          {
            headers: { "Upload-Offset": current, "Retry-After": String(begin.retryAfterSeconds) },
          },
        );
      }
      throw new ApiError("conflict", `Upload-Offset is ${offset} but the upload is at ${current}; resume from ${current}.`, {
        headers: { "Upload-Offset": current },
      });
    }
    const { token } = begin;
    let record = begin.record;
    try {
      if (contentLength !== undefined && offset + contentLength > record.length) throw pastUploadLength(record, offset);
      if (record.phase === "active") {
        try {
          const outcome = await writePatchBody({
            bucket: services.media.bucket,
            session,
            token,
            record,
            body: c.req.raw.body,
            cap: PATCH_BODY_CAP,
          });
          record = outcome.record;
        } catch (error) {
          if (error instanceof BodyPastUploadLength) throw pastUploadLength((await session.status()) ?? record, offset);
          if (error instanceof UploadFenced) throw fencedOut(error.fenced, uploadId);
          // A write that failed because the upload ended under it (R2 refuses parts of an aborted
          // multipart upload) is the fence too, seen from R2's side.
          const fence = await session.checkWrite(token);
          if (!fence.ok) throw fencedOut(fence, uploadId);
          throw error;
        }
      }
      if (record.phase === "assembled") {
        record = await finishUpload(services, session, record);
      } else {
        await recordUploadProgress(services.db, record.videoId, uploadId, record.offset / record.length).catch((error) => {
          services.log.warn("upload progress not recorded", { uploadId, error });
        });
      }
    } finally {
      await session.endWrite(token);
    }
    c.header("Upload-Offset", String(record.offset));
    c.header("Upload-Expires", httpDate(record.expiresAt));
    return c.body(null, 204);
  });
}

/**
 * tus: a PATCH must not carry more than the upload lacks; the server refuses it rather than
 * cutting it short (the client has a bug or the wrong file). Whole parts stored before a streamed
 * body overflowed stay; `Upload-Offset` says where the upload stands.
 */
function pastUploadLength(record: UploadRecord, offset: number): ApiError {
  return new ApiError(
    "payload-too-large",
    `The body, at offset ${offset}, goes past Upload-Length ${record.length}: send at most ${record.length - offset} bytes. ` +
      `Nothing past offset ${record.offset} was kept; resume from there.`,
    { headers: { "Upload-Offset": String(record.offset) } },
  );
}

/**
 * What a PATCH hears when its upload's Durable Object refused its writes: 410 when the upload was
 * terminated or expired under it (nothing it sent after that was kept), 409 when another PATCH
 * took over the upload.
 */
function fencedOut(fenced: Fenced, uploadId: string): ApiError {
  if (!fenced.record) return uploadNotFound(uploadId);
  if (fenced.reason === "gone") {
    const gone = uploadGone(fenced.record);
    return new ApiError(gone.code, `${gone.detail} This PATCH was still being written; nothing it sent after that was kept.`);
  }
  return new ApiError(
    "conflict",
    "Another PATCH took over this upload while this one made no progress for two minutes; nothing more of this one is kept. Resume from the offset HEAD gives.",
    { headers: { "Upload-Offset": String(fenced.record.offset) } },
  );
}

/** The master is whole: queue the video (exactly once), then drop the upload's scratch objects. */
async function finishUpload(services: Services, session: DurableObjectStub<UploadSession>, record: UploadRecord): Promise<UploadRecord> {
  const job = await queueTranscode(services, record.videoId, record.uploadId);
  if (!job) {
    // This upload no longer holds the video (deleted by an admin, or this upload terminated or
    // expired meanwhile): its master, at its own key, has no owner. Marked, not deleted: the bucket
    // lock keeps masters, and the cron removes it after the retention.
    await retireMaster(services.media.bucket, record.masterKey, services.clock);
    const now = await session.status();
    if (now && (now.phase === "terminated" || now.phase === "expired"))
      throw fencedOut({ ok: false, reason: "gone", record: now }, record.uploadId);
  }
  const finished = (await session.markFinished()) ?? record;
  await services.media.deleteByPrefix(record.scratchPrefix);
  if (job) services.log.info("upload complete, transcode queued", { videoId: record.videoId, jobId: job.jobId });
  return finished;
}
