import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { contentTypeFor, type MediaStorage } from "./storage.ts";

/**
 * Uploading a task's outputs while ffmpeg is still writing them. The output folder is polled.
 * ffmpeg writes each media segment under a temporary name and renames it once it is complete (the
 * HLS muxer's `temp_file` flag), so a segment that exists under its own name is finished; an init
 * segment is finished once its rendition's first segment exists (ffmpeg closes the init before it
 * writes that segment). Those go up during the encode, and leave the scratch disk once stored. What
 * is left (the last segment of each rendition, the poster, the storyboard tiles) goes up once
 * ffmpeg has exited.
 *
 * Files are streamed by the storage, never read whole; polling keeps this independent of
 * fs.watch's quirks (no events on some filesystems, duplicate or coalesced events on others).
 * Nothing is deleted under the prefix: a task's outputs carry its attempt's tag, beside other
 * tasks' outputs, and a failed attempt takes back its own.
 */

export interface OutputUploaderOptions {
  storage: MediaStorage;
  outputDir: string;
  /** Ends with "/". */
  prefix: string;
  concurrency: number;
  signal?: AbortSignal;
  /** How often the folder is looked at during the encode. */
  pollMs?: number;
  /**
   * Hears, at each look, how many segments every media folder has at least (ffmpeg writes a fMP4
   * segment when it cuts it). ffmpeg's own progress report stays silent until every output file
   * has started, and the storyboard's only starts at the end, so this is the encode's progress.
   */
  onSegmentsWritten?: (segments: number) => void;
  /** The key below `prefix` a finished output goes to, or null when it is not stored. Default: its name. */
  keyFor?: (name: string) => string | null;
  /** Runs on a finished file just before it goes up (a chunk's segments get their decode times moved). */
  prepare?: (name: string, path: string) => Promise<void>;
  /** Delete each file once it is stored, so the scratch disk holds only what is not up yet. */
  removeUploaded?: boolean;
}

interface OutputFile {
  /** Relative to the output folder, "/"-separated: also the key below the prefix. */
  name: string;
  bytes: number;
}

const segmentName = /^seg_(\d+)\.m4s$/;
const initName = /^init[^/]*\.mp4$/;

export class OutputUploader {
  readonly #options: OutputUploaderOptions;
  /** Aborts in-flight uploads when the job fails, is cancelled, or one upload fails. */
  readonly #controller = new AbortController();
  readonly #onAbort = () => this.#controller.abort();
  /** Names queued or uploaded. */
  readonly #taken = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #queue: string[] = [];
  /** Per media folder, how many segments ffmpeg has finished (the highest index seen, plus one). */
  readonly #segmentsSeen = new Map<string, number>();
  readonly #uploaded = new Set<string>();
  #started = false;
  #polling: Promise<void> | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #error: unknown = null;
  #uploadedBytes = 0;
  #onUploaded: (() => void) | null = null;
  #onError: ((error: unknown) => void) | null = null;

  constructor(options: OutputUploaderOptions) {
    this.#options = options;
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (options.signal?.aborted) this.#controller.abort();
  }

  /** Names (relative to the output folder) of the files stored so far. */
  get uploadedNames(): string[] {
    return [...this.#uploaded];
  }

  /** The first upload failure, if any; the encode should stop when there is one. */
  get error(): unknown {
    return this.#error;
  }

  /** Uploads finished files as they appear. `onError` hears of the first failure (the encode is pointless after it). */
  start(onError: (error: unknown) => void): void {
    this.#onError = onError;
    this.#started = true;
    this.#polling = (async () => {
      while (!this.#stopped && !this.#error) {
        // A listing that races ffmpeg is simply retried at the next poll; the final one is exact.
        await this.#scan().catch(() => undefined);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#options.pollMs ?? 200);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  /**
   * ffmpeg has exited and every output is written: uploads the rest. `onPercent` gets the share of
   * all the outputs' bytes uploaded so far, counting what went up during the encode.
   */
  async finish(onPercent: (percent: number) => void): Promise<void> {
    await this.#stopPolling();
    this.#started = true;
    this.#throwIfFailed();

    const files = await listFiles(this.#options.outputDir);
    // What went up during the encode (and may be gone from the disk), and what is still here.
    const left = files.filter((file) => !this.#uploaded.has(file.name) && this.#keyFor(file.name) !== null);
    const totalBytes = this.#uploadedBytes + left.reduce((sum, file) => sum + file.bytes, 0) || 1;
    const report = () => onPercent(Math.min(100, (this.#uploadedBytes / totalBytes) * 100));
    this.#onUploaded = report;
    report();
    for (const file of files.sort((a, b) => a.name.localeCompare(b.name))) this.#enqueue(file.name);
    await this.#drain();
    this.#throwIfFailed();
    report();
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Stops polling and waits for in-flight uploads to end (aborting them); never throws. */
  async stop(): Promise<void> {
    this.#controller.abort();
    this.#queue.length = 0;
    await this.#stopPolling();
    await this.#drain().catch(() => undefined);
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }

  async #stopPolling(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#polling;
  }

  #fail(error: unknown): void {
    if (this.#error) return;
    this.#error = error;
    this.#controller.abort();
    this.#wake?.();
    this.#onError?.(error);
  }

  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
    this.#controller.signal.throwIfAborted();
  }

  /** During the encode: queues the segments and init segments that ffmpeg has finished writing. */
  async #scan(): Promise<void> {
    // Names only, no stat: a long source has thousands of segments, listed every poll.
    const names = await readdir(this.#options.outputDir, { recursive: true });
    const byFolder = new Map<string, { name: string; index: number | null }[]>();
    for (const path of names) {
      const name = path.split(sep).join("/");
      const slash = name.lastIndexOf("/");
      if (slash < 0) continue; // poster, storyboard tiles: written at the end
      const base = name.slice(slash + 1);
      const segment = segmentName.exec(base);
      if (!segment && !initName.test(base)) continue;
      const folder = name.slice(0, slash);
      const list = byFolder.get(folder) ?? [];
      list.push({ name, index: segment ? Number(segment[1]) : null });
      byFolder.set(folder, list);
    }
    for (const [folder, entries] of byFolder) {
      // Counted by index, not by files present: an uploaded segment may have been removed.
      const segments = Math.max(this.#segmentsSeen.get(folder) ?? 0, ...entries.map((entry) => (entry.index ?? -1) + 1));
      this.#segmentsSeen.set(folder, segments);
      for (const entry of entries) {
        if (entry.index !== null || segments > 0) this.#enqueue(entry.name);
      }
    }
    // Every folder seen so far counts, also one whose segments have all gone up and left the disk.
    if (this.#segmentsSeen.size > 0) this.#options.onSegmentsWritten?.(Math.min(...this.#segmentsSeen.values()));
  }

  #enqueue(name: string): void {
    if (this.#taken.has(name)) return;
    this.#taken.add(name);
    if (this.#keyFor(name) === null) return;
    this.#queue.push(name);
    this.#pump();
  }

  #keyFor(name: string): string | null {
    return this.#options.keyFor ? this.#options.keyFor(name) : name;
  }

  #pump(): void {
    if (!this.#started) return;
    while (this.#inFlight.size < this.#options.concurrency && this.#queue.length > 0 && !this.#error) {
      const name = this.#queue.shift() as string;
      const upload = this.#upload(name).then(
        () => undefined,
        (error: unknown) => this.#fail(error),
      );
      this.#inFlight.add(upload);
      upload.finally(() => {
        this.#inFlight.delete(upload);
        this.#pump();
      });
    }
  }

  async #upload(name: string): Promise<void> {
    const signal = this.#controller.signal;
    signal.throwIfAborted();
    const path = join(this.#options.outputDir, ...name.split("/"));
    await this.#options.prepare?.(name, path);
    const { size } = await stat(path);
    await this.#options.storage.upload(`${this.#options.prefix}${this.#keyFor(name)}`, path, contentTypeFor(name), { signal });
    if (this.#options.removeUploaded) await rm(path, { force: true });
    this.#uploaded.add(name);
    this.#uploadedBytes += size;
    this.#onUploaded?.();
  }

  /** Resolves once the queue is empty and nothing is in flight. */
  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}

async function listFiles(folder: string): Promise<OutputFile[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const files = await Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const path = join(entry.parentPath, entry.name);
        const bytes = await stat(path).then(
          (s) => s.size,
          () => -1,
        );
        return { name: relative(folder, path).split(sep).join("/"), bytes };
      }),
  );
  return files.filter((file) => file.bytes >= 0);
}
