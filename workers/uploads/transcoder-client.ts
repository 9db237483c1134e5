import { z } from "zod";
import type { Logger } from "../platform/logger.ts";
import type { Services } from "../platform/services.ts";

/** `POST {transcoder}/jobs`: one job, answered with an NDJSON stream of events. */
export interface TranscoderJobRequest {
  jobId: string;
  videoId: string;
  sourceKey: string;
  outputPrefix: string;
  storage: { baseUrl: string; token: string };
}

const renditionResult = z.looseObject({
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  bitrate: z.number().nonnegative(),
  codec: z.string().min(1),
  playlist: z.string().min(1),
});

export const transcodeResultSchema = z.looseObject({
  renditions: z.array(renditionResult).min(1),
  masterKey: z.string().min(1),
  posterKey: z.string().min(1).nullish(),
  storyboard: z.object({ spriteKey: z.string().min(1), vttKey: z.string().min(1) }).nullish(),
  qualityReport: z.record(z.string(), z.unknown()).nullish(),
  durationSeconds: z.number().positive(),
});

export type TranscodeResult = z.output<typeof transcodeResultSchema>;

const transcoderEvent = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("progress"), stage: z.string(), percent: z.number() }),
  z.looseObject({ type: z.literal("done"), result: transcodeResultSchema }),
  z.looseObject({
    type: z.literal("failed"),
    retryable: z.boolean(),
    reason: z.string().min(1),
    qualityReport: z.record(z.string(), z.unknown()).nullish(),
  }),
]);

export type TranscoderEvent = z.output<typeof transcoderEvent>;

export type Dispatch =
  | { kind: "stream"; events: AsyncGenerator<TranscoderEvent> }
  | { kind: "busy"; retryAfterSeconds: number }
  | { kind: "unavailable"; reason: string };

/** How the Worker reaches a transcoder: a URL (local Node process) or the Container binding (production). */
type TranscoderFetch = (request: Request) => Promise<Response>;

/**
 * One code path, decided by configuration: `TRANSCODER_URL` when set (npm start sets it to the
 * local Node transcoder), else the `TRANSCODER` Container binding. Undefined when neither exists.
 */
export function transcoderFor(services: Services, videoId: string): { fetch: TranscoderFetch; base: string } | undefined {
  const url = services.config.TRANSCODER_URL;
  if (url) return { fetch: (request) => fetch(request), base: url.replace(/\/+$/, "") };
  // One instance per video: a retry reaches the instance that may still be busy with the last attempt.
  const container = services.transcoderContainer(videoId);
  return container && { fetch: (request) => container.fetch(request), base: "http://transcoder" };
}

/**
 * Posts the job. A 429 is "busy, come back later"; a refused connection, a 5xx or a body that is
 * not a stream is "unavailable" (retried); a 200 gives the events, read with `idleTimeoutMs`: a
 * transcoder that says nothing for that long is treated as dead.
 */
export async function dispatchTranscode(
  transcoder: { fetch: TranscoderFetch; base: string },
  job: TranscoderJobRequest,
  options: { idleTimeoutMs: number; signal: AbortSignal; log: Logger },
): Promise<Dispatch> {
  let response: Response;
  try {
    response = await transcoder.fetch(
      new Request(`${transcoder.base}/jobs`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/x-ndjson" },
        body: JSON.stringify(job),
        signal: options.signal,
      }),
    );
  } catch (error) {
    return { kind: "unavailable", reason: `the transcoder could not be reached (${errorText(error)})` };
  }
  if (response.status === 429) {
    await response.body?.cancel();
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    return { kind: "busy", retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 3600) : 30 };
  }
  if (!response.ok || !response.body) {
    const text = (await response.text().catch(() => "")).slice(0, 200);
    return { kind: "unavailable", reason: `the transcoder answered ${response.status}${text ? `: ${text}` : ""}` };
  }
  return { kind: "stream", events: readEvents(response.body, options.idleTimeoutMs, options.log) };
}

/** NDJSON lines as events; a line that is not an event is logged and skipped. */
async function* readEvents(body: ReadableStream<Uint8Array>, idleTimeoutMs: number, log: Logger): AsyncGenerator<TranscoderEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<"idle">((resolve) => {
        timer = setTimeout(() => resolve("idle"), idleTimeoutMs);
      });
      const next = await Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
      if (next === "idle") throw new TranscoderStreamError(`the transcoder sent nothing for ${Math.round(idleTimeoutMs / 1000)} s`);
      if (next.done) break;
      buffered += next.value;
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const event = parseLine(line, log);
        if (event) yield event;
        newline = buffered.indexOf("\n");
      }
    }
    const event = parseLine(buffered.trim(), log);
    if (event) yield event;
  } catch (error) {
    if (error instanceof TranscoderStreamError) throw error;
    throw new TranscoderStreamError(`the transcoder's stream broke off (${errorText(error)})`);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function parseLine(line: string, log: Logger): TranscoderEvent | undefined {
  if (!line) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    log.warn("transcoder sent a line that is not JSON", { line: line.slice(0, 200) });
    return undefined;
  }
  const parsed = transcoderEvent.safeParse(json);
  if (parsed.success) return parsed.data;
  const type = (json as { type?: unknown })?.type;
  if (type === "done") throw new TranscoderStreamError(`the transcoder's result is malformed (${parsed.error.issues[0]?.message})`);
  if (type !== "progress") {
    log.warn("transcoder sent an unknown event", { line: line.slice(0, 200) });
  }
  return undefined;
}

/** The stream ended badly: the transcoder died, hung or broke the protocol. Retryable. */
export class TranscoderStreamError extends Error {
  override readonly name = "TranscoderStreamError";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
