import { setTimeout as sleep } from "node:timers/promises";
import type { TaskCallback, TaskEvent, TranscodeTask } from "../../workers/transcoding/contract.ts";

/**
 * Telling the Worker how a task goes: `POST {task.callbackUrl}` with a `TaskCallback`, the task's
 * storage grant as bearer token. Nothing holds a connection open for the length of a task:
 *
 * - progress at most every `progressIntervalMs`, and the last progress again every
 *   `heartbeatMs` even without news, so the Worker's lease can tell a live task from a dead one;
 *   one at a time, never queued up behind a slow answer;
 * - the result (`done`, `failed` or `handed-back`) until the Worker has it: network errors, 5xx and 429 are
 *   retried with backoff for up to `giveUpMs`; the outputs are in storage meanwhile, and if the
 *   result never arrives the lease runs out and the task runs again (idempotently);
 * - an answer of 409 or 410 means this attempt is no longer the task's current one (or the job is
 *   gone): `onSuperseded` fires, and the runner stops the attempt. Its late callbacks change
 *   nothing at the Worker either way.
 */

export interface ReporterOptions {
  progressIntervalMs: number;
  heartbeatMs: number;
  giveUpMs: number;
  /** Per request. */
  timeoutMs?: number;
  onSuperseded: (why: string) => void;
  log: (message: string) => void;
}

export class TaskReporter {
  readonly #task: TranscodeTask;
  readonly #options: ReporterOptions;
  #lastPercent = -1;
  #lastSentAt = 0;
  #inFlight: Promise<void> | null = null;
  #heartbeat: NodeJS.Timeout;
  #closed = new AbortController();
  #superseded = false;

  constructor(task: TranscodeTask, options: ReporterOptions) {
    this.#task = task;
    this.#options = options;
    this.#heartbeat = setInterval(
      () => {
        if (Date.now() - this.#lastSentAt >= options.heartbeatMs) this.#sendProgress(Math.max(0, this.#lastPercent));
      },
      Math.min(options.heartbeatMs, 1000),
    );
  }

  /** Task progress, 0–100: sent when it moved and the interval has passed. */
  progress(percent: number): void {
    const value = Math.max(0, Math.min(100, Math.floor(percent)));
    if (value <= this.#lastPercent) return;
    this.#lastPercent = value;
    if (Date.now() - this.#lastSentAt >= this.#options.progressIntervalMs) this.#sendProgress(value);
  }

  /** The result; resolves once the Worker has it, or it refused it, or `giveUpMs` passed. */
  async finish(event: Extract<TaskEvent, { type: "done" | "failed" | "handed-back" }>): Promise<"delivered" | "refused" | "undelivered"> {
    clearInterval(this.#heartbeat);
    await this.#inFlight;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const answer = await this.#post(event);
      if (answer === "ok") return "delivered";
      if (answer === "refused" || answer === "superseded") return "refused";
      if (Date.now() - started >= this.#options.giveUpMs || this.#closed.signal.aborted) {
        this.#options.log(`gave up delivering the ${event.type} callback after ${Math.round((Date.now() - started) / 1000)} s`);
        return "undelivered";
      }
      await sleep(Math.min(30_000, 1000 * 2 ** attempt), undefined, { signal: this.#closed.signal }).catch(() => undefined);
    }
  }

  /** Stops heartbeats and retries (the transcoder is shutting down). */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#closed.abort();
  }

  #sendProgress(percent: number): void {
    if (this.#inFlight || this.#superseded) return;
    this.#lastSentAt = Date.now();
    this.#inFlight = this.#post({ type: "progress", percent }).then(
      () => {
        this.#inFlight = null;
      },
      () => {
        this.#inFlight = null;
      },
    );
  }

  async #post(event: TaskEvent): Promise<"ok" | "retry" | "refused" | "superseded"> {
    const task = this.#task;
    const body: TaskCallback = {
      jobId: task.jobId,
      videoId: task.videoId,
      taskId: task.taskId,
      kind: task.kind,
      attempt: task.attempt,
      event,
    };
    try {
      const response = await fetch(task.callbackUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${task.storage.token}`, "accept-encoding": "identity" },
        body: JSON.stringify(body),
        signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs ?? 15_000), this.#closed.signal]),
      });
      const text = await response.text().catch(() => "");
      if (response.ok) return "ok";
      if (response.status === 409 || response.status === 410) {
        if (!this.#superseded) {
          this.#superseded = true;
          this.#options.onSuperseded(
            `the Worker answered ${response.status} to a ${event.type} callback${text ? `: ${text.slice(0, 200)}` : ""}`,
          );
        }
        return "superseded";
      }
      if (response.status === 429 || response.status >= 500) return "retry";
      this.#options.log(`the Worker refused a ${event.type} callback with ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
      return "refused";
    } catch (error) {
      if (event.type !== "progress")
        this.#options.log(`a ${event.type} callback failed (${error instanceof Error ? error.message : String(error)}); retrying`);
      return "retry";
    }
  }
}
