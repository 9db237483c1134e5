import type { QualityLimits } from "./quality-check.ts";
import type { TranscodeJob } from "./run-job.ts";

/**
 * The body of `POST /jobs`, checked by hand: the container image carries no npm dependencies, and
 * this shape is small enough that a schema library would be most of the code it ships.
 *
 * @example
 * {
 *   "jobId": "01J…", "videoId": "v_123",
 *   "sourceKey": "uploads/v_123/source", "outputPrefix": "videos/v_123/hls/",
 *   "storage": { "baseUrl": "https://api.example.com", "token": "…" },
 *   "limits": { "maxWidth": 4096, "maxHeight": 4096, "maxDurationSeconds": 21600 }
 * }
 */
export interface JobRequest {
  job: TranscodeJob;
  storage: { baseUrl: string; token: string };
}

export type JobRequestParse = { ok: true; request: JobRequest } | { ok: false; errors: string[] };

const limitNames = [
  "maxWidth",
  "maxHeight",
  "maxDurationSeconds",
  "minDurationSeconds",
  "lowBitsPerPixel",
] as const satisfies readonly (keyof QualityLimits)[];

export function parseJobRequest(body: unknown): JobRequestParse {
  const errors: string[] = [];
  const object = isObject(body) ? body : {};
  if (!isObject(body)) errors.push("body: must be a JSON object");

  const text = (name: string, value: unknown) => {
    if (typeof value === "string" && value.trim() !== "" && value.length <= 1024) return value;
    errors.push(`${name}: must be a non-empty string`);
    return "";
  };
  const jobId = text("jobId", object.jobId);
  const videoId = text("videoId", object.videoId);
  const sourceKey = text("sourceKey", object.sourceKey);
  const outputPrefix = text("outputPrefix", object.outputPrefix);

  const storage = isObject(object.storage) ? object.storage : {};
  if (!isObject(object.storage)) errors.push("storage: must be an object with baseUrl and token");
  const baseUrl = text("storage.baseUrl", storage.baseUrl);
  const token = text("storage.token", storage.token);
  if (baseUrl && !/^https?:\/\//.test(baseUrl)) errors.push("storage.baseUrl: must be an http(s) URL");

  const limits = parseLimits(object.limits, errors);

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, request: { job: { jobId, videoId, sourceKey, outputPrefix, limits }, storage: { baseUrl, token } } };
}

/** A job's or task's `limits` (absent: none), each problem added to `errors`. */
export function parseLimits(value: unknown, errors: string[]): Partial<QualityLimits> {
  const limits: Partial<QualityLimits> = {};
  if (value === undefined) return limits;
  if (!isObject(value)) {
    errors.push("limits: must be an object");
    return limits;
  }
  for (const [name, limit] of Object.entries(value)) {
    if (!(limitNames as readonly string[]).includes(name)) errors.push(`limits.${name}: unknown limit`);
    else if (typeof limit !== "number" || !(limit > 0)) errors.push(`limits.${name}: must be a positive number`);
    else limits[name as (typeof limitNames)[number]] = limit;
  }
  return limits;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
