import { describeIssues, type TaskResult, type TranscodeTask, taskResultSchema } from "../../workers/transcoding/contract.ts";
import { runAudioTask } from "./audio-task.ts";
import { runChunkTask } from "./chunk-task.ts";
import { runFinalizeTask } from "./finalize-task.ts";
import { JobFailure } from "./job-failure.ts";
import { runPlanTask } from "./plan-task.ts";
import type { TaskDependencies } from "./task-context.ts";

/**
 * A chunked transcode's tasks (see `workers/transcoding/contract.ts` for the whole flow): each kind
 * maps to its runner, the way PeerTube maps transcoding payloads to builders. A task is one piece
 * of ffmpeg work on one instance; it reads the master where it lies, writes its outputs under its
 * attempt's own names, and never needs the whole master on disk.
 */

/**
 * Runs `task` and checks its result with the contract's schema for it, the one the Worker checks
 * the callback with: a result out of the contract's bounds (more ranges than the title's length
 * allows, a storyboard too large) fails here, in words, and is never reported as done.
 *
 * @example
 * const result = await runTask(task, { storage: new HttpStorage(task.storage.baseUrl, task.storage.token), tools, workRoot });
 */
export async function runTask(task: TranscodeTask, deps: TaskDependencies): Promise<TaskResult> {
  const checked = taskResultSchema(task).safeParse(await runKind(task, deps));
  if (checked.success) return checked.data;
  throw new JobFailure(`the ${task.kind} task made a result outside the contract: ${describeIssues(checked.error).join("; ")}`, true);
}

function runKind(task: TranscodeTask, deps: TaskDependencies): Promise<TaskResult> {
  switch (task.kind) {
    case "plan":
      return runPlanTask(task, deps);
    case "chunk":
      return runChunkTask(task, deps);
    case "audio":
      return runAudioTask(task, deps);
    case "finalize":
      return runFinalizeTask(task, deps);
  }
}
