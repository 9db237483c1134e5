import { describeIssues, type TranscodeTask, transcodeTaskSchema } from "../../workers/transcoding/contract.ts";

/**
 * The body of `POST /tasks`, checked with the contract's own schema (the one the Worker's plan
 * result and callbacks are checked with), so a task the Worker builds from what it accepted is
 * one this side takes. Every problem is listed, in words.
 */

export type TaskRequestParse = { ok: true; task: TranscodeTask } | { ok: false; errors: string[] };

/**
 * @example
 * const parsed = parseTaskRequest(JSON.parse(body));
 * if (!parsed.ok) answer(400, { error: "invalid task", errors: parsed.errors }); // ["chunk.endPts: must be a number"]
 */
export function parseTaskRequest(body: unknown): TaskRequestParse {
  const parsed = transcodeTaskSchema.safeParse(body);
  return parsed.success ? { ok: true, task: parsed.data } : { ok: false, errors: describeIssues(parsed.error) };
}
