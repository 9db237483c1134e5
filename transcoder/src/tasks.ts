import type { TaskResult, TranscodeTask } from "../../workers/transcoding/contract.ts";
import { runAudioTask } from "./audio-task.ts";
import { runChunkTask } from "./chunk-task.ts";
import { runFinalizeTask } from "./finalize-task.ts";
import { runPlanTask } from "./plan-task.ts";
import type { TaskDependencies } from "./task-context.ts";

/**
 * A chunked transcode's tasks (see `workers/transcoding/contract.ts` for the whole flow): each kind
 * maps to its runner, the way PeerTube maps transcoding payloads to builders. A task is one piece
 * of ffmpeg work on one instance; it reads the master where it lies, writes its outputs under its
 * attempt's own names, and never needs the whole master on disk.
 */

/**
 * @example
 * const result = await runTask(task, { storage: new HttpStorage(task.storage.baseUrl, task.storage.token), tools, workRoot });
 */
export function runTask(task: TranscodeTask, deps: TaskDependencies): Promise<TaskResult> {
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
