import { copyFile, mkdir, open, readdir, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { assertValidKey, assertValidPrefix, type MediaStorage, StorageError } from "./storage.ts";

/**
 * MediaStorage on a local folder: one file per key. For tests and for trying the transcoder
 * without a Worker; `copyFile` streams in the kernel, so large files cost no memory here either.
 */
export class FsStorage implements MediaStorage {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = rootDir;
  }

  /** The file that holds `key`. */
  pathFor(key: string): string {
    assertValidKey(key);
    return join(this.rootDir, ...key.split("/"));
  }

  async download(key: string, destPath: string): Promise<void> {
    try {
      await copyFile(this.pathFor(key), destPath);
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw new StorageError(`no object at ${key}`, 404, false);
      throw error;
    }
  }

  async upload(key: string, filePath: string): Promise<void> {
    const target = this.pathFor(key);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(filePath, target);
  }

  async size(key: string): Promise<number | null> {
    return stat(this.pathFor(key)).then(
      (found) => found.size,
      (error: unknown) => {
        if (isErrno(error, "ENOENT")) return null;
        throw error;
      },
    );
  }

  /** The file itself: ffmpeg seeks in it as it would in ranges of the object. */
  sourceInput(key: string): string {
    return this.pathFor(key);
  }

  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const file = await open(this.pathFor(key), "r").catch((error: unknown) => {
      throw isErrno(error, "ENOENT") ? new StorageError(`no object at ${key}`, 404, false) : error;
    });
    try {
      const bytes = new Uint8Array(Math.max(0, end - start));
      const { bytesRead } = await file.read(bytes, 0, bytes.length, start);
      return bytes.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = await this.list(prefix);
    await Promise.all(keys.map((key) => rm(this.pathFor(key), { force: true })));
    await removeEmptyFolders(this.rootDir, this.rootDir);
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    let entries: string[];
    try {
      entries = (await readdir(this.rootDir, { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) => relative(this.rootDir, join(entry.parentPath, entry.name)).split(sep).join("/"));
    } catch (error) {
      if (isErrno(error, "ENOENT")) return [];
      throw error;
    }
    return entries.filter((key) => key.startsWith(prefix)).sort();
  }
}

/** Folders left empty by a delete are removed, as an object store has no empty folders either. */
async function removeEmptyFolders(folder: string, root: string): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyFolders(join(folder, entry.name), root);
  if (folder !== root) await rmdir(folder).catch(() => undefined);
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === code;
}
