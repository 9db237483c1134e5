import { mkdir, rename, writeFile } from "node:fs/promises";
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
  it("uploads finished segments during the encode, the rest after, the master last", async () => {
    const outputDir = join(temp.dir, "out");
    await mkdir(join(outputDir, "240p"), { recursive: true });
    const { storage, calls, backing } = recording(join(temp.dir, "bucket"));
    // What an earlier attempt left: deleted before the first upload.
    await writeFile(join(temp.dir, "stale.m4s"), "stale");
    await backing.upload("videos/v/hls/999p/stale.m4s", join(temp.dir, "stale.m4s"));
    const uploader = new OutputUploader({ storage, outputDir, prefix: "videos/v/hls/", concurrency: 2, pollMs: 10 });
    // ffmpeg opens the init at the start and writes it when it cuts the first segment.
    await writeFile(join(outputDir, "240p", "init_0.mp4"), "");
    // The segment being written, under its temporary name (the muxer's temp_file flag).
    await writeFile(join(outputDir, "240p", "seg_00000.m4s.tmp"), "ze");
    uploader.start(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toEqual(["delete videos/v/hls/"]);

    // The first segment is complete: renamed, and the init written before it.
    await writeFile(join(outputDir, "240p", "init_0.mp4"), "init");
    await rename(join(outputDir, "240p", "seg_00000.m4s.tmp"), join(outputDir, "240p", "seg_00000.m4s"));
    await writeFile(join(outputDir, "240p", "seg_00001.m4s.tmp"), "one");
    await until(() => calls.includes("240p/seg_00000.m4s") && calls.includes("240p/init_0.mp4"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(3);
    expect(calls[0]).toBe("delete videos/v/hls/");

    // ffmpeg exits: the last segment, the previews, the playlists and the master are written.
    await rename(join(outputDir, "240p", "seg_00001.m4s.tmp"), join(outputDir, "240p", "seg_00001.m4s"));
    await writeFile(join(outputDir, "240p", "index.m3u8"), "#EXTM3U");
    await writeFile(join(outputDir, "poster.jpg"), "jpeg");
    await writeFile(join(outputDir, "master.m3u8"), "#EXTM3U");
    const percents: number[] = [];
    await uploader.finish((percent) => percents.push(percent));
    expect(calls.slice(3).sort()).toEqual(["240p/index.m3u8", "240p/seg_00001.m4s", "master.m3u8", "poster.jpg"]);
    expect(calls.at(-1)).toBe("master.m3u8");
    expect(percents[0]).toBeGreaterThan(0);
    expect(percents.at(-1)).toBe(100);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(await backing.list("videos/v/")).toEqual([
      "videos/v/hls/240p/index.m3u8",
      "videos/v/hls/240p/init_0.mp4",
      "videos/v/hls/240p/seg_00000.m4s",
      "videos/v/hls/240p/seg_00001.m4s",
      "videos/v/hls/master.m3u8",
      "videos/v/hls/poster.jpg",
    ]);
  });

  it("reports the first failed upload and never uploads the master after it", async () => {
    const outputDir = join(temp.dir, "failing");
    await mkdir(join(outputDir, "240p"), { recursive: true });
    const { storage, calls } = recording(join(temp.dir, "bucket-2"), "videos/w/hls/240p/seg_00000.m4s");
    const uploader = new OutputUploader({ storage, outputDir, prefix: "videos/w/hls/", concurrency: 2, pollMs: 10 });
    const errors: unknown[] = [];
    uploader.start((error) => errors.push(error));
    await writeFile(join(outputDir, "240p", "seg_00000.m4s"), "zero");
    await writeFile(join(outputDir, "240p", "seg_00001.m4s"), "one");
    await until(() => errors.length === 1);
    expect(uploader.error).toBeInstanceOf(StorageError);
    await writeFile(join(outputDir, "master.m3u8"), "#EXTM3U");
    await expect(uploader.finish(() => undefined)).rejects.toBeInstanceOf(StorageError);
    await uploader.stop();
    expect(calls).not.toContain("master.m3u8");
  });
});
