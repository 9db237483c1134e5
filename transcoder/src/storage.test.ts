import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import { makeTempDir } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { HttpStorage } from "./http-storage.ts";
import { contentTypeFor, type MediaStorage, StorageError } from "./storage.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let server: StorageServer;
let backing: FsStorage;
let sample: string;
const token = "test-token";

beforeAll(async () => {
  temp = await makeTempDir("storage");
  backing = new FsStorage(join(temp.dir, "behind-http"));
  server = await startStorageServer(backing, { token, pageSize: 2 });
  sample = join(temp.dir, "sample.bin");
  await writeFile(sample, randomBytes(300_000));
});

afterAll(async () => {
  await server?.close();
  await temp?.remove();
});

const implementations: [string, () => MediaStorage][] = [
  ["FsStorage", () => new FsStorage(join(temp.dir, "fs"))],
  ["HttpStorage", () => new HttpStorage(`${server.baseUrl}/`, token, { backoffMs: 10 })],
];

describe.each(implementations)("%s", (name, make) => {
  it("uploads, lists, downloads and deletes by prefix", async () => {
    const storage = make();
    const prefix = `videos/${name}/hls/`;
    await storage.upload(`${prefix}720p/seg 1.m4s`, sample, "video/iso.segment");
    await storage.upload(`${prefix}master.m3u8`, sample, "application/vnd.apple.mpegurl");
    await storage.upload(`${prefix}poster.jpg`, sample, "image/jpeg");
    await storage.upload(`videos/${name}/hls-old/keep.jpg`, sample, "image/jpeg");

    expect(await storage.list(prefix)).toEqual([`${prefix}720p/seg 1.m4s`, `${prefix}master.m3u8`, `${prefix}poster.jpg`]);

    const copy = join(temp.dir, `${name}-copy.bin`);
    await storage.download(`${prefix}720p/seg 1.m4s`, copy);
    expect((await readFile(copy)).equals(await readFile(sample))).toBe(true);

    await storage.deletePrefix(prefix);
    expect(await storage.list(prefix)).toEqual([]);
    expect(await storage.list(`videos/${name}/`)).toEqual([`videos/${name}/hls-old/keep.jpg`]);
  });

  it("says 404, not retryable, for a missing object", async () => {
    const error = await make()
      .download("nothing/here.mp4", join(temp.dir, "never.bin"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ status: 404, retryable: false });
  });

  it("refuses keys that would escape their folder", async () => {
    await expect(make().upload("../outside.bin", sample, "application/octet-stream")).rejects.toThrow("invalid storage key");
    await expect(make().list("a/../../")).rejects.toThrow("invalid storage key");
  });
});

describe("HttpStorage", () => {
  it("sends the content type and streams with a length", async () => {
    await new HttpStorage(server.baseUrl, token).upload("typed/master.m3u8", sample, "application/vnd.apple.mpegurl");
    expect(server.contentTypes.get("typed/master.m3u8")).toBe("application/vnd.apple.mpegurl");
  });

  it("retries a storage that answers 503 for a moment", async () => {
    server.failNext(2);
    await new HttpStorage(server.baseUrl, token, { backoffMs: 10 }).upload("retried/a.jpg", sample, "image/jpeg");
    expect(await backing.list("retried/")).toEqual(["retried/a.jpg"]);
  });

  it("gives up after its attempts, as a retryable failure", async () => {
    server.failNext(3);
    await expect(new HttpStorage(server.baseUrl, token, { attempts: 3, backoffMs: 10 }).list("x/")).rejects.toMatchObject({
      status: 503,
      retryable: true,
    });
  });

  it("does not retry a refused token", async () => {
    await expect(new HttpStorage(server.baseUrl, "wrong").list("x/")).rejects.toMatchObject({ status: 401, retryable: false });
  });

  it("pages through long listings", async () => {
    const storage = new HttpStorage(server.baseUrl, token);
    for (const index of [1, 2, 3, 4, 5]) await storage.upload(`paged/${index}.m4s`, sample, "video/iso.segment");
    expect(await storage.list("paged/")).toEqual([1, 2, 3, 4, 5].map((index) => `paged/${index}.m4s`));
  });
});

describe("contentTypeFor", () => {
  it("knows the HLS, image and caption types", () => {
    expect(["a.m3u8", "b.m4s", "init.mp4", "poster.jpg", "s.vtt", "x.bin"].map(contentTypeFor)).toEqual([
      "application/vnd.apple.mpegurl",
      "video/iso.segment",
      "video/mp4",
      "image/jpeg",
      "text/vtt; charset=utf-8",
      "application/octet-stream",
    ]);
  });
});
