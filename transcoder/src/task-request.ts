import type { TranscodeTask } from "../../workers/transcoding/contract.ts";
import type { QualityLimits } from "./quality-check.ts";

/**
 * The body of `POST /tasks`, checked by hand (the image carries no npm dependencies, and a schema
 * library would be most of the code it ships). The Worker builds these bodies from its own zod-checked records, so this is the
 * second line: every field a runner reads is checked for its type, and every problem is listed.
 */

type Check = (value: unknown, path: string, errors: string[]) => void;

const limitNames = [
  "maxWidth",
  "maxHeight",
  "maxDurationSeconds",
  "minDurationSeconds",
  "lowBitsPerPixel",
] as const satisfies readonly (keyof QualityLimits)[];

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

const text: Check = (value, path, errors) => {
  if (typeof value !== "string" || value.trim() === "" || value.length > 4096) errors.push(`${path}: must be a non-empty string`);
};
const url: Check = (value, path, errors) => {
  if (typeof value !== "string" || !/^https?:\/\/\S+$/.test(value)) errors.push(`${path}: must be an http(s) URL`);
};
const number: Check = (value, path, errors) => {
  if (typeof value !== "number" || !Number.isFinite(value)) errors.push(`${path}: must be a number`);
};
const positive: Check = (value, path, errors) => {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) errors.push(`${path}: must be a positive number`);
};
const count: Check = (value, path, errors) => {
  if (!Number.isSafeInteger(value) || (value as number) < 0) errors.push(`${path}: must be a whole number, 0 or more`);
};
const boolean: Check = (value, path, errors) => {
  if (typeof value !== "boolean") errors.push(`${path}: must be true or false`);
};
const nullable =
  (check: Check): Check =>
  (value, path, errors) =>
    value === null ? undefined : check(value, path, errors);
const array =
  (item: Check, min = 0): Check =>
  (value, path, errors) => {
    if (!Array.isArray(value) || value.length < min)
      return void errors.push(`${path}: must be a list${min > 0 ? ` of at least ${min}` : ""}`);
    for (const [index, entry] of value.entries()) item(entry, `${path}[${index}]`, errors);
  };
const object =
  (fields: Record<string, Check>, optional: readonly string[] = []): Check =>
  (value, path, errors) => {
    if (!isObject(value)) return void errors.push(`${path}: must be an object`);
    for (const [name, check] of Object.entries(fields)) {
      if (value[name] === undefined && optional.includes(name)) continue;
      check(value[name], path ? `${path}.${name}` : name, errors);
    }
  };
const anything: Check = () => undefined;

const rational = object({ num: positive, den: positive });
const rendition = object({
  name: text,
  width: positive,
  height: positive,
  frameRate: rational,
  fps: positive,
  videoBitrate: positive,
  maxBitrate: positive,
  bufferSize: positive,
  gopFrames: positive,
});
const encodePlan = object({
  durationSeconds: positive,
  durationFromStream: boolean,
  originSeconds: number,
  source: object({ fps: positive, videoCodec: text }),
  video: object({ streamIndex: count, timeBase: rational }),
  audio: nullable(object({ streamIndex: count })),
  ladder: object({ renditions: array(rendition, 1), deinterlace: boolean, audio: object({ type: text }), segmentSeconds: positive }),
  poster: object({ atSeconds: number, width: positive, height: positive }),
  storyboard: object({
    intervalSeconds: positive,
    tileCount: positive,
    columns: positive,
    rows: positive,
    tileWidth: positive,
    tileHeight: positive,
  }),
  interlace: anything,
});
const chunkRange = object({ index: count, startPts: number, startSeconds: number, endPts: nullable(number), endSeconds: number });
const segment = object({ key: text, ticks: count, bytes: count });
const chunkResult = object({
  index: count,
  renditions: array(
    object({
      name: text,
      codec: text,
      initKey: nullable(text),
      initSha256: text,
      timescale: positive,
      startTicks: count,
      frames: count,
      segments: array(segment),
    }),
  ),
  tiles: array(object({ index: count, key: text })),
  posterKey: nullable(text),
  decode: object({ decodedSeconds: number, errorCount: count, errors: array(text), endedEarly: boolean }),
  timing: anything,
});
const audioResult = object({ codec: text, initKey: text, timescale: positive, segments: array(segment) });

const envelope = {
  jobId: text,
  videoId: text,
  taskId: text,
  attempt: positive,
  sourceKey: text,
  outputPrefix: text,
  attemptTag: text,
  storage: object({ baseUrl: url, token: text }),
  callbackUrl: url,
  limits: (value: unknown, path: string, errors: string[]) => {
    if (value === undefined) return;
    if (!isObject(value)) return void errors.push(`${path}: must be an object`);
    for (const [name, limit] of Object.entries(value)) {
      if (!(limitNames as readonly string[]).includes(name)) errors.push(`${path}.${name}: unknown limit`);
      else positive(limit, `${path}.${name}`, errors);
    }
  },
};

const byKind: Record<TranscodeTask["kind"], Check> = {
  plan: object({ ...envelope, chunkSeconds: positive }, ["limits"]),
  chunk: object({ ...envelope, encode: encodePlan, chunk: chunkRange }, ["limits"]),
  audio: object({ ...envelope, encode: encodePlan }, ["limits"]),
  finalize: object({ ...envelope, encode: encodePlan, chunks: array(chunkResult, 1), audio: nullable(audioResult) }, ["limits"]),
};

export type TaskRequestParse = { ok: true; task: TranscodeTask } | { ok: false; errors: string[] };

/**
 * @example
 * const parsed = parseTaskRequest(JSON.parse(body));
 * if (!parsed.ok) answer(400, { error: "invalid task", errors: parsed.errors }); // ["chunk.endPts: must be a number"]
 */
export function parseTaskRequest(body: unknown): TaskRequestParse {
  if (!isObject(body)) return { ok: false, errors: ["body: must be a JSON object"] };
  const kind = body.kind;
  if (typeof kind !== "string" || !(kind in byKind))
    return { ok: false, errors: [`kind: must be one of ${Object.keys(byKind).join(", ")}`] };
  const errors: string[] = [];
  byKind[kind as TranscodeTask["kind"]](body, "", errors);
  if (typeof body.attemptTag === "string" && !/^[A-Za-z0-9._-]{1,64}$/.test(body.attemptTag)) {
    errors.push("attemptTag: letters, digits, '.', '_' and '-' only (it starts object names)");
  }
  if (typeof body.outputPrefix === "string" && !body.outputPrefix.endsWith("/")) errors.push("outputPrefix: must end with '/'");
  if (typeof body.attempt === "number" && !Number.isSafeInteger(body.attempt)) errors.push("attempt: must be a whole number");
  return errors.length > 0 ? { ok: false, errors } : { ok: true, task: body as unknown as TranscodeTask };
}
