import { extname } from "node:path";
import type { SourceInput } from "./media-input.ts";

/**
 * Where sources come from and renditions go. The transcoder only ever sees this interface:
 * `HttpStorage` talks to the Worker's internal storage endpoints (which forward to R2, miniflare's
 * locally and the real one in production), `FsStorage` is a folder for tests. Both stream: a
 * multi-gigabyte master never sits in memory.
 */
export interface MediaStorage {
  /** Writes the object at `key` to `destPath`. Throws StorageError with `status: 404` when absent. */
  download(key: string, destPath: string, options?: StorageCallOptions): Promise<void>;
  upload(key: string, filePath: string, contentType: string, options?: StorageCallOptions): Promise<void>;
  /** Deletes every object whose key starts with `prefix`; nothing to delete is not an error. */
  deletePrefix(prefix: string, options?: StorageCallOptions): Promise<void>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string, options?: StorageCallOptions): Promise<string[]>;
  /** The object's size in bytes, or null when it does not exist. */
  size(key: string, options?: StorageCallOptions): Promise<number | null>;
  /**
   * How ffmpeg reads the object where it lies (a URL with the grant, or a path), so a task reads
   * only the byte ranges it needs instead of downloading the object first.
   */
  sourceInput(key: string, options?: { sequential?: boolean }): SourceInput;
  /**
   * Bytes `start` to `end` (exclusive) of the object, read with the source's credential: what a
   * container's index is parsed from (keyframe-index.ts) without ffmpeg.
   */
  readRange(key: string, start: number, end: number, options?: StorageCallOptions): Promise<Uint8Array>;
}

export interface StorageCallOptions {
  signal?: AbortSignal;
}

export class StorageError extends Error {
  /** The HTTP status when there was one; 404 means the object does not exist. */
  readonly status: number | null;
  /** Whether trying again later may succeed (network trouble, 5xx), as opposed to a refusal. */
  readonly retryable: boolean;

  constructor(message: string, status: number | null, retryable: boolean) {
    super(message);
    this.name = "StorageError";
    this.status = status;
    this.retryable = retryable;
  }
}

/**
 * Keys are R2 object names: slash-separated, no empty, `.` or `..` segments, no leading slash.
 * Checked on both implementations so a key that would escape FsStorage's folder fails the same
 * way against the Worker.
 */
export function assertValidKey(key: string): void {
  const segments = key.split("/");
  const bad = key === "" || key.includes("\\") || key.includes("\0") || segments.some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new StorageError(`invalid storage key: ${JSON.stringify(key)}`, null, false);
}

/** A prefix is a key's beginning; it may end with "/" (a folder) or be empty (everything). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

const contentTypes: Record<string, string> = {
  ".m3u8": "application/vnd.apple.mpegurl",
  ".m4s": "video/iso.segment",
  ".mp4": "video/mp4",
  ".jpg": "image/jpeg",
  ".webp": "image/webp",
  ".vtt": "text/vtt; charset=utf-8",
};

export function contentTypeFor(fileName: string): string {
  return contentTypes[extname(fileName).toLowerCase()] ?? "application/octet-stream";
}
