import type { Context } from "hono";
import { createRouter } from "../platform/app.ts";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import { STORAGE_RANGE_MAX_BYTES } from "./contract.ts";
import { isLiveAttempt } from "./service.ts";
import { describeGrant, grantAllowsRead, grantAllowsWrite, type StorageGrant, verifyStorageGrant } from "./storage-grant.ts";

/** The largest object the transcoder may write in one PUT (R2's single-put limit is 5 GiB). */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3 - 1;
const INTERNAL_STORAGE = "/internal/storage";

/**
 * R2 for the transcoder, over HTTP: the same four calls locally (miniflare's R2 behind
 * `wrangler dev`) and in production (R2, the container calling PUBLIC_BASE_URL). Every call needs
 * a storage grant for one task attempt (see storage-grant.ts) whose attempt still runs: its task's
 * current attempt, its job under way, its video not published (one indexed row of the primary per
 * call). A write is checked again once R2 has it: an attempt that ended meanwhile loses the object
 * (409), so nothing it wrote outlives a failed job's cleanup. Not part of the public API, so not in
 * /openapi.json. ffmpeg reads masters through `GET` with ranges (206), by way of the transcoder's
 * range proxy, which asks for closed ones.
 *
 * - `GET    /internal/storage/{key}`: the object, streamed, 404 when absent; a range is served
 *   closed, at most `STORAGE_RANGE_MAX_BYTES` from its start (`boundedRange`)
 * - `PUT    /internal/storage/{key}`: body streamed to R2; Content-Length required, Content-Type kept
 * - `GET    /internal/storage?prefix=&cursor=`: `{ keys, cursor? }` (1000 keys a page)
 * - `DELETE /internal/storage?prefix=`: deletes every object below the prefix
 */
export function createInternalStorageRouter() {
  const app = createRouter();

  app.get(INTERNAL_STORAGE, async (c) => {
    const prefix = prefixParam(c);
    authorizeWrite(await liveGrantOf(c), prefix);
    const page = await c.get("services").media.bucket.list({ prefix, limit: 1000, cursor: c.req.query("cursor") || undefined });
    return c.json({ keys: page.objects.map((object) => object.key), ...(page.truncated ? { cursor: page.cursor } : {}) });
  });

  app.delete(INTERNAL_STORAGE, async (c) => {
    const prefix = prefixParam(c);
    authorizeWrite(await liveGrantOf(c), prefix);
    const deleted = await c.get("services").media.deleteByPrefix(prefix);
    return c.json({ deleted });
  });

  app.get(`${INTERNAL_STORAGE}/*`, async (c) => {
    const key = keyParam(c);
    const grant = await liveGrantOf(c);
    if (!grantAllowsRead(grant, key)) throw outOfScope(grant, key);
    if (c.req.method === "HEAD") {
      const head = await c.get("services").media.bucket.head(key);
      if (!head) throw missing(key);
      return new Response(null, { headers: objectHeaders(head, head.size) });
    }
    const object = await c.get("services").media.bucket.get(key, { range: boundedRange(c.req.header("Range")), onlyIf: c.req.raw.headers });
    if (!object) throw missing(key);
    if (!("body" in object)) return new Response(null, { status: 304, headers: objectHeaders(object, object.size) });
    const range = object.range as { offset?: number; length?: number } | undefined;
    if (c.req.header("Range") && range && range.offset !== undefined && range.length !== undefined) {
      const headers = objectHeaders(object, range.length);
      headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`);
      return new Response(object.body, { status: 206, headers });
    }
    return new Response(object.body, { headers: objectHeaders(object, object.size) });
  });

  app.put(`${INTERNAL_STORAGE}/*`, async (c) => {
    const key = keyParam(c);
    const grant = await liveGrantOf(c);
    authorizeWrite(grant, key);
    const header = c.req.header("Content-Length");
    if (header === undefined || !/^\d{1,16}$/.test(header)) {
      throw new ApiError("length-required", "Send Content-Length: R2 needs an object's size before it accepts a stream.");
    }
    const length = Number(header);
    if (length > MAX_OBJECT_BYTES) throw new ApiError("payload-too-large", `An object may have at most ${MAX_OBJECT_BYTES} bytes.`);
    const body = c.req.raw.body ?? new Response("").body;
    if (!body) throw new ApiError("bad-request", "No body.");
    const contentType = c.req.header("Content-Type") ?? "application/octet-stream";
    const services = c.get("services");
    const stored = await services.media.bucket.put(key, body.pipeThrough(new FixedLengthStream(length)), { httpMetadata: { contentType } });
    // The attempt may have ended while the body streamed (its job failed and was cleaned up): what
    // it wrote then goes too. Either this check sees the end, or the end's cleanup sees the object.
    if (!(await isLiveAttempt(services.db, attemptOf(grant)))) {
      await services.media.bucket.delete(key);
      throw new ApiError("conflict", `Attempt ${grant.attempt} of ${grant.task} ended while '${key}' was written; the object was removed.`);
    }
    return c.json({ key, size: stored?.size ?? length, etag: stored?.etag }, 201);
  });

  return app;
}

/**
 * The request's range, closed and at most `STORAGE_RANGE_MAX_BYTES` long: `bytes=N-` and a longer
 * `bytes=N-M` become `bytes=N-(N+max-1)` (R2 ends it at the object's end), so a reader that goes
 * away costs at most that, whatever R2 does with the rest of an open range. Other forms (a suffix)
 * are passed as they are; no range reads the whole object.
 */
function boundedRange(header: string | undefined): Headers | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match) return new Headers({ Range: header });
  const start = Number(match[1]);
  const end = Math.min(match[2] ? Number(match[2]) : Number.POSITIVE_INFINITY, start + STORAGE_RANGE_MAX_BYTES - 1);
  return new Headers({ Range: `bytes=${start}-${end}` });
}

function objectHeaders(object: R2Object, length: number): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  // Masters are stored without a type (tus and PUT source take any container). Cloudflare, and
  // miniflare after it, gzips a response that has none when the client accepts gzip: a 10 MB
  // master took 0.3 s instead of 0.1 s through wrangler dev, compressing video that never shrinks.
  if (!headers.has("Content-Type")) headers.set("Content-Type", "application/octet-stream");
  headers.set("Content-Length", String(length));
  headers.set("ETag", object.httpEtag);
  headers.set("Accept-Ranges", "bytes");
  headers.set("Cache-Control", "no-store");
  return headers;
}

/** The request's storage grant (`Authorization: Bearer …`), checked; 401 or 403 otherwise. */
export async function grantOf(c: Context<AppEnv>): Promise<StorageGrant> {
  const header = c.req.header("Authorization");
  const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  if (!token) throw new ApiError("unauthorized", "Send the job's storage grant: Authorization: Bearer <token>.");
  const check = await verifyStorageGrant(c.get("services").config.INTERNAL_SIGNING_SECRET, token);
  if (!check.ok) throw new ApiError("forbidden", `The storage grant is not valid (${check.reason}).`);
  return check.grant;
}

/**
 * The request's grant, checked, whose attempt still runs (see above); 403 otherwise. The
 * signature is checked first, so the database is asked only about grants this Worker signed.
 */
async function liveGrantOf(c: Context<AppEnv>): Promise<StorageGrant> {
  const grant = await grantOf(c);
  if (!(await isLiveAttempt(c.get("services").db, attemptOf(grant)))) {
    throw new ApiError(
      "forbidden",
      `The storage grant of attempt ${grant.attempt} of ${grant.task} is no longer valid: that attempt is over, or its job or video is (published, failed or deleted).`,
    );
  }
  return grant;
}

function attemptOf(grant: StorageGrant) {
  return { jobId: grant.job, taskId: grant.task, attempt: grant.attempt };
}

function authorizeWrite(grant: StorageGrant, keyOrPrefix: string): void {
  if (!grantAllowsWrite(grant, keyOrPrefix)) throw outOfScope(grant, keyOrPrefix);
}

function outOfScope(grant: StorageGrant, key: string): ApiError {
  return new ApiError("forbidden", `The storage grant of job ${grant.job} does not cover '${key}' (${describeGrant(grant)}).`);
}

function missing(key: string): ApiError {
  return new ApiError("not-found", `There is no object '${key}'.`);
}

/** R2 keys are literal, but `..` and empty segments would make prefix checks mean something else to a reader. */
function checkKey(key: string, what: string): string {
  const segments = key.split("/");
  if (key.length === 0 || key.length > 1024 || segments.some((s, i) => s === "." || s === ".." || (s === "" && i < segments.length - 1))) {
    throw new ApiError("bad-request", `'${key}' is not a valid ${what}.`);
  }
  return key;
}

function keyParam(c: Context<AppEnv>): string {
  const raw = new URL(c.req.url).pathname.slice(INTERNAL_STORAGE.length + 1);
  let key: string;
  try {
    key = raw.split("/").map(decodeURIComponent).join("/");
  } catch {
    throw new ApiError("bad-request", "The key is not valid percent-encoding.");
  }
  if (key.endsWith("/")) throw new ApiError("bad-request", `'${key}' is not a valid key.`);
  return checkKey(key, "key");
}

function prefixParam(c: Context<AppEnv>): string {
  const prefix = c.req.query("prefix");
  if (!prefix) throw new ApiError("bad-request", "Send ?prefix=: the folder to list or delete.");
  return checkKey(prefix, "prefix");
}
