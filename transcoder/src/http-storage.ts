import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { type MediaInput, sequentialReadOptions, storageInput } from "./media-input.ts";
import type { RangeProxy } from "./range-proxy.ts";
import { assertValidKey, assertValidPrefix, type MediaStorage, type StorageCallOptions, StorageError } from "./storage.ts";

/**
 * MediaStorage over the Worker's internal storage endpoints, which forward to R2:
 *
 * - `GET    {baseUrl}/internal/storage/{key}`: the object's bytes, streamed (404 when absent)
 * - `PUT    {baseUrl}/internal/storage/{key}`: streamed body with Content-Type and Content-Length
 *   (R2 needs the length up front to accept a stream)
 * - `GET    {baseUrl}/internal/storage?prefix=…[&cursor=…]`: `{ keys: string[], cursor?: string }`;
 *   a `cursor` asks for the next page, because R2 lists at most 1000 keys at a time
 * - `DELETE {baseUrl}/internal/storage?prefix=…`: deletes every key under the prefix
 * - `HEAD   {baseUrl}/internal/storage/{key}`: the object's size (404 when absent)
 *
 * ffmpeg reads sources from the same `GET` URL itself, with `Range` headers (`sourceInput`); given a
 * `rangeProxy` (the transcoder server always gives one), through it, so that storage is only ever
 * asked for closed ranges (range-proxy.ts).
 *
 * Every request carries `Authorization: Bearer {token}`, the task's grant, except the master's:
 * ffmpeg reads it (`sourceInput`) and `size` measures it with the source grant, which opens that
 * one object for reading and nothing else, so the one credential handed to ffmpeg is worth
 * nothing elsewhere. Keys go into the path one segment at a time, percent-encoded, with the
 * slashes kept. Redirects are refused (the Worker never sends one, and a grant must not follow one
 * to another host). Network failures, 408, 429 and 5xx are retried with backoff (every call here
 * is idempotent); other statuses are final.
 */
export class HttpStorage implements MediaStorage {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #sourceToken: string;
  readonly #attempts: number;
  readonly #backoffMs: number;
  /** Where ffmpeg reads sources from: the range proxy's stand-in for `baseUrl`, or `baseUrl`. */
  readonly #sourceBase: string;

  /** `source.token`: the task's read-only grant of its master (default: the task grant). */
  constructor(
    baseUrl: string,
    token: string,
    options: { attempts?: number; backoffMs?: number; rangeProxy?: RangeProxy; source?: { token: string } } = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#sourceBase = options.rangeProxy ? options.rangeProxy.register(this.baseUrl) : this.baseUrl;
    this.#token = token;
    this.#sourceToken = options.source?.token ?? token;
    this.#attempts = options.attempts ?? 3;
    this.#backoffMs = options.backoffMs ?? 500;
  }

  async download(key: string, destPath: string, options: StorageCallOptions = {}): Promise<void> {
    await this.#withRetry(`download ${key}`, options.signal, async () => {
      const response = await this.#fetch(this.#objectUrl(key), { method: "GET", signal: options.signal });
      await expectOk(response, `download ${key}`);
      if (!response.body) throw new StorageError(`download ${key}: empty response`, response.status, true);
      // The cast: the repo's tsconfig also loads the Workers types, whose ReadableStream is another
      // declaration of the same WHATWG class. A retry starts the file over: createWriteStream truncates.
      await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), createWriteStream(destPath), {
        signal: options.signal,
      });
    });
  }

  async upload(key: string, filePath: string, contentType: string, options: StorageCallOptions = {}): Promise<void> {
    const { size } = await stat(filePath);
    await this.#withRetry(`upload ${key}`, options.signal, async () => {
      const response = await this.#fetch(this.#objectUrl(key), {
        method: "PUT",
        headers: { "content-type": contentType, "content-length": String(size) },
        body: Readable.toWeb(createReadStream(filePath)) as ReadableStream<Uint8Array>,
        duplex: "half",
        signal: options.signal,
      });
      await expectOk(response, `upload ${key}`);
      await response.arrayBuffer();
    });
  }

  async size(key: string, options: StorageCallOptions = {}): Promise<number | null> {
    return this.#withRetry(`size of ${key}`, options.signal, async () => {
      const response = await this.#fetch(this.#objectUrl(key), { method: "HEAD", signal: options.signal }, this.#sourceToken);
      if (response.status === 404) return null;
      await expectOk(response, `size of ${key}`);
      const length = Number(response.headers.get("content-length"));
      if (!Number.isSafeInteger(length) || length < 0) throw new StorageError(`size of ${key}: no Content-Length`, response.status, false);
      return length;
    });
  }

  /** The master where it lies, with the source grant (the only one ffmpeg ever holds). */
  sourceInput(key: string, options: { sequential?: boolean } = {}): MediaInput {
    return storageInput(this.#objectUrl(key, this.#sourceBase), this.#sourceToken, options.sequential ? sequentialReadOptions : []);
  }

  /** A closed range of the master, with the source grant, through the range proxy when there is one. */
  async readRange(key: string, start: number, end: number, options: StorageCallOptions = {}): Promise<Uint8Array> {
    return this.#withRetry(`bytes ${start}-${end - 1} of ${key}`, options.signal, async () => {
      const headers = { range: `bytes=${start}-${end - 1}` };
      const response = await this.#fetch(
        this.#objectUrl(key, this.#sourceBase),
        { method: "GET", headers, signal: options.signal },
        this.#sourceToken,
      );
      await expectOk(response, `bytes ${start}-${end - 1} of ${key}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (response.status !== 206 && start > 0)
        throw new StorageError(`bytes of ${key}: storage ignored the range`, response.status, false);
      return bytes.subarray(0, end - start);
    });
  }

  async deletePrefix(prefix: string, options: StorageCallOptions = {}): Promise<void> {
    assertValidPrefix(prefix);
    await this.#withRetry(`delete ${prefix}`, options.signal, async () => {
      const response = await this.#fetch(this.#prefixUrl(prefix), { method: "DELETE", signal: options.signal });
      await expectOk(response, `delete ${prefix}`);
      await response.arrayBuffer();
    });
  }

  async list(prefix: string, options: StorageCallOptions = {}): Promise<string[]> {
    assertValidPrefix(prefix);
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#withRetry(`list ${prefix}`, options.signal, async () => {
        const response = await this.#fetch(this.#prefixUrl(prefix, cursor), { method: "GET", signal: options.signal });
        await expectOk(response, `list ${prefix}`);
        return parseListPage(await response.json());
      });
      keys.push(...page.keys);
      cursor = page.cursor;
    } while (cursor);
    return keys.sort();
  }

  #objectUrl(key: string, base = this.baseUrl): string {
    assertValidKey(key);
    return `${base}/internal/storage/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  #prefixUrl(prefix: string, cursor?: string): string {
    const query = new URLSearchParams({ prefix });
    if (cursor) query.set("cursor", cursor);
    return `${this.baseUrl}/internal/storage?${query}`;
  }

  #fetch(url: string, init: RequestInit & { duplex?: "half" }, token = this.#token): Promise<Response> {
    // Nothing here gains from compression: media never shrinks under gzip, and the JSON answers are
    // a few bytes. Asked for as is, neither end spends CPU on it.
    const headers = { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}`, "accept-encoding": "identity" };
    return fetch(url, { ...init, headers, redirect: "error" });
  }

  async #withRetry<T>(what: string, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (signal?.aborted) throw error;
        const storageError = toStorageError(error, what);
        if (!storageError.retryable || tries >= this.#attempts) throw storageError;
        await sleep(this.#backoffMs * 4 ** (tries - 1), undefined, { signal });
      }
    }
  }
}

async function expectOk(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  const detail = (await response.text().catch(() => "")).slice(0, 200);
  const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
  throw new StorageError(`${what}: storage answered ${response.status}${detail ? ` (${detail})` : ""}`, response.status, retryable);
}

/** Anything that is not already a StorageError is a network failure: worth another try. */
function toStorageError(error: unknown, what: string): StorageError {
  if (error instanceof StorageError) return error;
  const cause = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  return new StorageError(`${what}: ${cause}`, null, true);
}

function parseListPage(json: unknown): { keys: string[]; cursor?: string } {
  const page = json as { keys?: unknown; cursor?: unknown };
  if (!Array.isArray(page?.keys) || !page.keys.every((key) => typeof key === "string")) {
    throw new StorageError("list: storage answered without a keys array", 200, false);
  }
  return { keys: page.keys, cursor: typeof page.cursor === "string" && page.cursor !== "" ? page.cursor : undefined };
}
