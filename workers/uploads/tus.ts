import type { Context } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { UploadRecord, UploadSession } from "../../durable-objects/upload-session.ts";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { unsafeCharacterReason } from "../platform/text.ts";
import { MAX_UPLOAD_BYTES } from "./settings.ts";

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS = "creation,termination";
export const TUS_CONTENT_TYPE = "application/offset+octet-stream";

/** Every tus answer (errors included) says which protocol version it speaks. */
export const tusResumableHeader = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  c.res.headers.set("Tus-Resumable", TUS_VERSION);
  if (c.req.method === "OPTIONS") {
    c.res.headers.set("Tus-Version", TUS_VERSION);
    c.res.headers.set("Tus-Extension", TUS_EXTENSIONS);
    c.res.headers.set("Tus-Max-Size", String(MAX_UPLOAD_BYTES));
  }
});

/**
 * Browsers (tus-js-client, Uppy) upload cross-origin with a bearer token, never cookies, so any
 * origin may call; the tus headers must be allowed and exposed or the client cannot read offsets.
 */
export const tusCors = cors({
  origin: "*",
  allowMethods: ["POST", "GET", "HEAD", "PATCH", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type", "Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset", "X-Requested-With"],
  exposeHeaders: [
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Upload-Metadata",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
  ],
  maxAge: 86400,
});

/** tus core: a request without `Tus-Resumable: 1.0.0` is 412, with the versions the server speaks. */
export function requireTusResumable(c: Context<AppEnv>): void {
  const version = c.req.header("Tus-Resumable");
  if (version !== TUS_VERSION) {
    throw new ApiError(
      "precondition-failed",
      version
        ? `This server speaks tus ${TUS_VERSION}, not ${version}.`
        : `Send the header Tus-Resumable: ${TUS_VERSION} (this is a tus ${TUS_VERSION} endpoint).`,
      { headers: { "Tus-Version": TUS_VERSION } },
    );
  }
}

/** A non-negative integer header, or an ApiError naming it. */
export function integerHeader(c: Context<AppEnv>, name: string): number | undefined {
  const value = c.req.header(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value.trim())) throw new ApiError("bad-request", `${name} must be a non-negative integer, got '${value}'.`);
  return Number(value.trim());
}

/** `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent). */
export function parseUploadMetadata(header: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (!header?.trim()) return metadata;
  if (header.length > 4096) throw new ApiError("bad-request", "Upload-Metadata is longer than 4096 characters.");
  for (const pair of header.split(",")) {
    const [key, value, extra] = pair.trim().split(" ");
    if (!key || extra !== undefined || !/^[A-Za-z0-9_.-]+$/.test(key)) {
      throw new ApiError("bad-request", `Upload-Metadata must be 'key base64value' pairs separated by commas; '${pair.trim()}' is not.`);
    }
    let decoded: string;
    try {
      decoded = value
        ? new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)))
        : "";
    } catch {
      throw new ApiError("bad-request", `The Upload-Metadata value of '${key}' is not base64-encoded UTF-8.`);
    }
    const unsafe = unsafeCharacterReason(decoded, { label: `The Upload-Metadata value of '${key}'` });
    if (unsafe) {
      throw new ApiError("validation", "A value of Upload-Metadata is not valid; see errors.", {
        errors: [{ path: `Upload-Metadata.${key}`, message: unsafe }],
      });
    }
    metadata[key] = decoded;
  }
  return metadata;
}

const uploadIdPattern = /^[0-9a-f]{32}$/;

export function newUploadId(): string {
  return crypto.randomUUID().replace(/-/g, "");
}

/** The upload's Durable Object, or 404 for ids that cannot exist. */
export function uploadSession(services: Services, uploadId: string): DurableObjectStub<UploadSession> {
  if (!uploadIdPattern.test(uploadId)) throw uploadNotFound(uploadId);
  return services.uploadSession(uploadId);
}

export function uploadPath(uploadId: string): string {
  return `/v1/admin/uploads/${uploadId}`;
}

export function uploadNotFound(uploadId: string): ApiError {
  return new ApiError("not-found", `There is no upload with id '${uploadId}'. Create one with POST /v1/admin/videos/{id}/uploads.`);
}

/** What a request to an upload that no longer takes bytes hears. */
export function uploadGone(record: UploadRecord): ApiError {
  const why = {
    terminated: "was terminated",
    expired: "expired after a day without data; its bytes were deleted",
    finished: "is complete and its video is queued for transcoding",
    active: "is active",
    assembled: "is complete",
  }[record.phase];
  return new ApiError(record.phase === "finished" ? "conflict" : "gone", `Upload ${record.uploadId} ${why}.`);
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
