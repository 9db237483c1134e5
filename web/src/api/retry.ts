import { type ApiProblem, problemFrom, retryAfter } from "./problem.ts";

/**
 * Retrying by itself what the API could not do for a moment: a 503 with `Retry-After` (the
 * database is down: sign-in, sign-up, plan changes, admin writes, search) is asked again after the
 * wait it names, growing from there, a few times at most. Only a request that is safe to repeat is
 * asked again (`RetryOptions.repeatable`): one that changes nothing, or sets a state that a second
 * time leaves as the first did. While a request waits, its problem and the moment of its next try
 * are listed (`onRetryWaits`), so that the app shows the API's words and a countdown.
 */

/** A request waiting to be asked again. */
export interface RetryWait {
  /** The API's answer, whose `detail` says in words what is unavailable. */
  problem: ApiProblem;
  /** Epoch ms of the next try. */
  retryAt: number;
  /** 1 for the first retry. */
  attempt: number;
}

export interface RetryOptions {
  /** Whether asking again cannot do a thing twice. */
  repeatable: boolean;
  signal?: AbortSignal | undefined;
  /** Retries after the first answer (default 3). */
  maxRetries?: number;
  /** The longest single wait (default 120 s), whatever `Retry-After` says. */
  maxWaitSeconds?: number;
  /** Waits `ms` (the clock: tests pass their own). Rejects when `signal` aborts. */
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

type Listener = (waits: readonly RetryWait[]) => void;
const waits = new Set<RetryWait>();
const listeners = new Set<Listener>();

function announce() {
  const list = [...waits];
  for (const listener of listeners) listener(list);
}

/** Calls `listener` with every request now waiting to be retried, at once and on each change. */
export function onRetryWaits(listener: Listener): () => void {
  listeners.add(listener);
  listener([...waits]);
  return () => listeners.delete(listener);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/** Seconds in `Retry-After` when the answer is a 503 that asks to come back, else null. */
const retryAfterOf = (response: Response) => (response.status === 503 ? retryAfter(response) : null);

/**
 * Calls `send` until it is not a 503 with `Retry-After`, the retries are spent, or the request is
 * not `repeatable`; answers the last response. Each wait is the larger of `Retry-After` and twice
 * the one before, at most `maxWaitSeconds`.
 *
 * @example
 * const response = await withRetryAfter(() => fetch("/v1/search?q=night"), { repeatable: true });
 */
export async function withRetryAfter(send: () => Promise<Response>, options: RetryOptions): Promise<Response> {
  const { signal, maxRetries = 3, maxWaitSeconds = 120, wait = sleep, now = Date.now } = options;
  let previous = 0;
  for (let attempt = 1; ; attempt++) {
    const response = await send();
    const retryAfter = retryAfterOf(response);
    if (retryAfter === null || !options.repeatable || attempt > maxRetries) return response;
    const seconds = Math.min(maxWaitSeconds, Math.max(retryAfter, previous * 2));
    previous = seconds;
    const entry: RetryWait = { problem: await problemFrom(response), retryAt: now() + seconds * 1000, attempt };
    waits.add(entry);
    announce();
    try {
      await wait(seconds * 1000, signal);
    } finally {
      waits.delete(entry);
      announce();
    }
  }
}
