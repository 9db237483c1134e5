import { mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { OutputUploader } from "./output-uploader.ts";
import { type MediaStorage, StorageError } from "./storage.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("output-uploader");
});

afterAll(() => temp?.remove());

/** FsStorage that records the order of its calls, and can be told to fail one key. */
function recording(root: string, failKey?: string) {
  const backing = new FsStorage(root);
  const calls: string[] = [];
  const storage: MediaStorage = {
    download: (key, dest) => backing.download(key, dest),
    list: (prefix) => backing.list(prefix),
    size: (key) => backing.size(key),
    sourceInput: (key) => backing.sourceInput(key),
    readRange: (key, start, end) => backing.readRange(key, start, end),
    async deletePrefix(prefix) {
      calls.push(`delete ${prefix}`);
      await backing.deletePrefix(prefix);
    },
    async upload(key, path) {
      if (key === failKey) throw new StorageError(`upload ${key}: storage answered 503`, 503, true);
      await backing.upload(key, path);
      calls.push(key.slice(key.lastIndexOf("hls/") + 4));
    },
  };
  return { storage, calls, backing };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
};

describe("uploading while ffmpeg writes", () => {
  it("uploads finished segments during the encode under their keys, the rest after, and frees the disk as it goes", async () => {
    const outputDir = join(temp.dir, "out");
    await mkdir(join(outputDir, "240p"), { recursive: true });
    const { storage, calls, backing } = recording(join(temp.dir, "bucket"));
    // Another chunk's output beside this one's: left alone.
    await writeFile(join(temp.dir, "other.m4s"), "other");
    await backing.upload("videos/v/hls/240p/c0000-a1-00000.m4s", join(temp.dir, "other.m4s"));
    const prepared: string[] = [];
    // Each look at the folder ends with this report: waiting for two more looks is waiting for the
    // uploader to have seen the folder as it is now (an upload it starts calls `prepare` at once).
    let looks = 0;
    const looked = async (count: number) => {
      const target = looks + count;
      await until(() => looks >= target);
    };
    const uploader = new OutputUploader({
      storage,
      outputDir,
      prefix: "videos/v/hls/",
      concurrency: 2,
      pollMs: 10,
      onSegmentsWritten: () => void looks++,
      removeUploaded: true,
      // A chunk's naming: segments and init under the attempt's tag, the poster kept, the rest not stored.
      keyFor: (name) => {
        const segment = /^240p\/seg_(\d+)\.m4s$/.exec(name);
        if (segment) return `240p/c0001-a2-${segment[1]}.m4s`;
        if (/^240p\/init_\d+\.mp4$/.test(name)) return "240p/c0001-a2-init.mp4";
        return name === "poster.jpg" ? "previews/c0001-a2-poster.jpg" : null;
      },
      prepare: async (name) => void prepared.push(name),
    });
    // ffmpeg opens the init at the start and writes it when it cuts the first segment.
    await writeFile(join(outputDir, "240p", "init_0.mp4"), "");
    // The segment being written, under its temporary name (the muxer's temp_file flag).
    await writeFile(join(outputDir, "240p", "seg_00000.m4s.tmp"), "ze");
    uploader.start(() => undefined);
    await looked(2);
    expect(calls).toEqual([]);
    expect(prepared).toEqual([]);

    // The first segment is complete: renamed, and the init written before it.
    await writeFile(join(outputDir, "240p", "init_0.mp4"), "init");
    await rename(join(outputDir, "240p", "seg_00000.m4s.tmp"), join(outputDir, "240p", "seg_00000.m4s"));
    await writeFile(join(outputDir, "240p", "seg_00001.m4s.tmp"), "one");
    await until(() => calls.includes("240p/c0001-a2-00000.m4s") && calls.includes("240p/c0001-a2-init.mp4"));
    await looked(2);
    expect(calls).toHaveLength(2);
    expect(prepared.sort()).toEqual(["240p/init_0.mp4", "240p/seg_00000.m4s"]);
    expect(await readdir(join(outputDir, "240p"))).toEqual(["seg_00001.m4s.tmp"]);

    // ffmpeg exits: the last segment, the poster and a log nobody stores are written.
    await rename(join(outputDir, "240p", "seg_00001.m4s.tmp"), join(outputDir, "240p", "seg_00001.m4s"));
    await writeFile(join(outputDir, "poster.jpg"), "jpeg");
    await writeFile(join(outputDir, "packets.framecrc"), "log");
    const percents: number[] = [];
    await uploader.finish((percent) => percents.push(percent));
    expect(calls.slice(2).sort()).toEqual(["240p/c0001-a2-00001.m4s", "previews/c0001-a2-poster.jpg"]);
    expect(prepared.sort()).toEqual(["240p/init_0.mp4", "240p/seg_00000.m4s", "240p/seg_00001.m4s", "poster.jpg"]);
    expect(uploader.uploadedNames.sort()).toEqual(prepared);
    expect(percents[0]).toBeGreaterThan(0);
    expect(percents.at(-1)).toBe(100);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(await backing.list("videos/v/")).toEqual([
      "videos/v/hls/240p/c0000-a1-00000.m4s",
      "videos/v/hls/240p/c0001-a2-00000.m4s",
      "videos/v/hls/240p/c0001-a2-00001.m4s",
      "videos/v/hls/240p/c0001-a2-init.mp4",
      "videos/v/hls/previews/c0001-a2-poster.jpg",
    ]);
    expect(await readdir(outputDir, { recursive: true })).toEqual(expect.arrayContaining(["packets.framecrc"]));
    expect(await readdir(join(outputDir, "240p"))).toEqual([]);
  });

  it("reports the first failed upload, and uploads nothing more after it", async () => {
    const outputDir = join(temp.dir, "failing");
    await mkdir(join(outputDir, "240p"), { recursive: true });
    const { storage, calls } = recording(join(temp.dir, "bucket-2"), "videos/w/hls/240p/seg_00000.m4s");
    const uploader = new OutputUploader({ storage, outputDir, prefix: "videos/w/hls/", concurrency: 1, pollMs: 10 });
    const errors: unknown[] = [];
    uploader.start((error) => errors.push(error));
    await writeFile(join(outputDir, "240p", "seg_00000.m4s"), "zero");
    await until(() => errors.length === 1);
    expect(uploader.error).toBeInstanceOf(StorageError);
    await writeFile(join(outputDir, "240p", "seg_00001.m4s"), "one");
    await writeFile(join(outputDir, "poster.jpg"), "jpeg");
    await expect(uploader.finish(() => undefined)).rejects.toBeInstanceOf(StorageError);
    await uploader.stop();
    expect(calls).toEqual([]);
  });
});
