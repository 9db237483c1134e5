import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { onTestFinished } from "vitest";
import { testClock } from "../../testing/clock.ts";
import worker, { queueConsumer } from "../../testing/worker/index.ts";
import type { QueueMessage } from "../queue.ts";

export interface CallInit extends RequestInit {
  json?: unknown;
  token?: string;
  /** Bindings or vars to replace for this request (a broken KV, another APP_ENV). */
  env?: Partial<Env>;
}

/**
 * Sends a request to the Worker under test (the test Worker: the production app on the test
 * clock), through its real fetch handler, and waits for the request's background work (cache
 * fills, pool closing) before answering: the next request sees everything this one wrote, with no
 * sleeps.
 */
export async function call(path: string, init: CallInit = {}): Promise<Response> {
  const { json, token, env: overrides, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("Content-Type", "application/json");
  if (token) headers.set("Authorization", `Bearer ${token}`);
  // A random client address per request (IPv6 documentation space): per-client limits never meet by chance.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomAddress());
  const body = json !== undefined ? JSON.stringify(json) : rest.body;
  // An HTTP client sends the length of a body it knows whole; a stream goes without one.
  const length = knownLength(body);
  if (length !== undefined && !headers.has("Content-Length")) headers.set("Content-Length", String(length));
  const ctx = createExecutionContext();
  const request = new Request(`http://reelstream.test${path}`, { ...rest, headers, body });
  const response = await worker.fetch(request, overrides ? { ...env, ...overrides } : env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/**
 * Delivers one message to the Worker under test's queue consumer, as the queue does, and answers
 * what the consumer did with it (`explicitAcks`, `retryMessages`) once it is done.
 */
export async function deliverQueueMessage(body: QueueMessage, options: { queue?: string; attempts?: number } = {}) {
  return deliverQueueBatch([body], options);
}

/**
 * Delivers `bodies` as one batch to the Worker under test's queue consumer (as production runs
 * it), with `env` replaced in part when given, and answers what the consumer did with them,
 * including the delay each retry asked for.
 */
export async function deliverQueueBatch(bodies: QueueMessage[], options: { queue?: string; attempts?: number; env?: Partial<Env> } = {}) {
  const batch = createMessageBatch<QueueMessage>(
    options.queue ?? "reelstream-transcode",
    bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(testClock.now()), attempts: options.attempts ?? 1, body })),
  );
  // The test harness records that a message was retried, not the delay asked for: written down here.
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (retryOptions?: QueueRetryOptions) => {
      delays.set(message.id, retryOptions?.delaySeconds);
      retry();
    };
  }
  const ctx = createExecutionContext();
  await queueConsumer(batch, options.env ? { ...env, ...options.env } : env, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((retry) => ({ ...retry, delaySeconds: delays.get(retry.msgId) })) };
}

function knownLength(body: BodyInit | null | undefined): number | undefined {
  if (typeof body === "string") return new TextEncoder().encode(body).byteLength;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof Blob) return body.size;
  return undefined;
}

export function uniqueEmail(label = "viewer"): string {
  return `${label}-${crypto.randomUUID()}@example.com`;
}

export const strongPassword = "correct horse battery staple";

export interface SignedIn {
  user: { id: string; email: string; name: string; role: string };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Signs up a fresh viewer and returns its tokens. */
export async function signUp(overrides: Partial<{ email: string; password: string; name: string }> = {}): Promise<SignedIn> {
  const response = await call("/v1/auth/signup", {
    method: "POST",
    json: { email: uniqueEmail(), password: strongPassword, name: "Test Viewer", ...overrides },
  });
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A client address nobody else uses: 2001:db8::/32, with 64 random bits. */
export function randomAddress(): string {
  const groups = Array.from(crypto.getRandomValues(new Uint16Array(4)), (group) => group.toString(16));
  return `2001:db8::${groups.join(":")}`;
}

/**
 * Moves the clock of the Worker under test and of its Durable Objects forward by `ms` (see
 * testing/clock.ts): what was due in that time is due now. Alarms do not fire by themselves on it;
 * run them with `runDurableObjectAlarm`. Time goes back to the system's when the test ends.
 *
 * @example
 * advanceClock(STREAM_LEASE_SECONDS * 1000); // no heartbeat for a whole lease
 */
export function advanceClock(ms: number): void {
  testClock.advance(ms);
  onTestFinished(() => testClock.reset());
}

/** The time on the clock of the Worker under test (milliseconds since the epoch). */
export function clockNow(): number {
  return testClock.now();
}

/**
 * Runs `attempt` so that every rate-limited call it makes falls in one window of the Rate Limiting
 * binding. miniflare counts in fixed windows of its own wall clock (`floor(now / period)`), which
 * the test clock does not move; an attempt that a window boundary fell into is run once more, from
 * scratch, right after that boundary, with a whole window ahead. `attempt` must count under keys
 * of its own (a new address, a new account), so that the calls of a discarded attempt count for
 * nothing in the next one.
 */
export async function inOneRateWindow<T>(periodSeconds: number, attempt: () => Promise<T>): Promise<T> {
  const windowOf = () => Math.floor(Date.now() / (periodSeconds * 1000));
  for (let tries = 1; ; tries++) {
    const window = windowOf();
    const outcome = await attempt().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (windowOf() === window) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    if (tries === 2) {
      throw new Error(
        `two attempts in a row spanned a boundary of the ${periodSeconds} s rate window: the attempt is too slow for one window`,
      );
    }
  }
}
