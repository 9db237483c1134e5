/** R2 multipart parts must all have one size (but the last) of at least 5 MiB. */
export const PART_SIZE = 8 * 1024 * 1024;
/** 8192 parts of 8 MiB: well inside R2's 10,000 parts per multipart upload. */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024 * 1024;
/**
 * The most one PATCH body may carry. Cloudflare refuses request bodies over 100 MB at the edge;
 * a longer body is read up to here, and the answer's Upload-Offset tells the client where to go on.
 */
export const PATCH_BODY_CAP = 96 * 1024 * 1024;
/** `PUT /v1/admin/videos/{id}/source`: one body, streamed to R2 in one put. */
export const SOURCE_PUT_CAP = 100 * 1024 * 1024;
/** An upload without a PATCH for this long is expired: its bytes are deleted and the video freed. */
export const UPLOAD_IDLE_EXPIRY_MS = 24 * 3600 * 1000;
