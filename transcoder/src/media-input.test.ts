import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskEnvelope } from "../../scripts/lib/chunked-job.ts";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import type { ChunkTask, PlanResult } from "../../workers/transcoding/contract.ts";
import { makeClip, makeTempDir, tools } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { HttpStorage } from "./http-storage.ts";
import { JobFailure } from "./job-failure.ts";
import { containerRefusal, refusedFormat } from "./media-input.ts";
import type { TaskDependencies } from "./task-context.ts";
import { runTask } from "./tasks.ts";

/**
 * An uploaded master is a file, never a program: a playlist that names other URLs (an HLS
 * playlist's segments, a concat list's files) is refused before ffmpeg opens any of them, so a
 * server it names hears nothing, least of all the grant. The "attacker" is a real HTTP server this
 * test runs; the masters reach ffmpeg as they do in production, over HTTP from storage with the
 * task's grant, and from a local file.
 */

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bucket: FsStorage;
let storage: StorageServer;
let attacker: { url: string; hits: { url: string; headers: IncomingHttpHeaders }[]; close: () => Promise<void> };
const grant = "the-task-grant";
const sourceGrant = "the-source-grant";

beforeAll(async () => {
  temp = await makeTempDir("media-input");
  bucket = new FsStorage(join(temp.dir, "bucket"));
  storage = await startStorageServer(bucket, { token: grant, sourceToken: sourceGrant });
  const hits: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((request, response) => {
    hits.push({ url: request.url ?? "", headers: request.headers });
    response.writeHead(200, { "content-type": "video/mp2t" }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  attacker = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const playlist = [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    "#EXT-X-TARGETDURATION:4",
    "#EXTINF:4.0,",
    `${attacker.url}/seg.ts`,
    "#EXTINF:4.0,",
    `${attacker.url}/seg2.ts`,
    "#EXT-X-ENDLIST",
    "",
  ].join("\n");
  await bucket.upload("masters/hls/source", await writeTemp("playlist.m3u8", playlist));
  await bucket.upload("masters/concat/source", await writeTemp("list.txt", `ffconcat version 1.0\nfile '${attacker.url}/part.mp4'\n`));
  await bucket.upload("masters/clip/source", await makeClip(temp.dir, "clip", { seconds: 2 }));
});

afterAll(async () => {
  await Promise.all([storage?.close(), attacker?.close()]);
  await temp?.remove();
});

async function writeTemp(name: string, text: string): Promise<string> {
  const { writeFile } = await import("node:fs/promises");
  const path = join(temp.dir, name);
  await writeFile(path, text);
  return path;
}

const deps = (over: Partial<TaskDependencies> = {}): TaskDependencies => ({
  storage: new HttpStorage(storage.baseUrl, grant, { source: { token: sourceGrant } }),
  tools,
  workRoot: join(temp.dir, "work"),
  preset: "ultrafast",
  ...over,
});

const plan = (videoId: string, over: Partial<TaskDependencies> = {}) =>
  runTask(
    {
      ...taskEnvelope(videoId, `masters/${videoId}/source`),
      kind: "plan",
      taskId: "plan",
      attempt: 1,
      attemptTag: "plan-a1-",
      chunkSeconds: 4,
    },
    deps(over),
  );

async function refusalOf(work: Promise<unknown>): Promise<JobFailure> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(JobFailure);
  return error as JobFailure;
}

describe("a master is a file, never a program", () => {
  it("refuses an HLS playlist in words, and the servers it names receive nothing", async () => {
    const failure = await refusalOf(plan("hls"));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe(
      "the file is an HLS playlist (.m3u8), not a video: it only points at other files, and those are never fetched; upload the video file itself, such as MP4, MOV, MKV or WebM",
    );
    expect(failure.qualityReport).toMatchObject({ ok: false, refusal: failure.message });
    expect(attacker.hits).toEqual([]);
    // The master itself was read with the source grant, never the task's.
    expect(storage.authorizations.get("masters/hls/source")).toEqual(new Set([sourceGrant]));
  });

  it("refuses a concat list, and one on local disk, with nothing fetched", async () => {
    expect((await refusalOf(plan("concat"))).message).toMatch(/^the file is a list of other files, not a video: /);
    const local = await refusalOf(plan("hls", { storage: bucket }));
    expect(local.message).toMatch(/^the file is an HLS playlist \(\.m3u8\), not a video/);
    expect(attacker.hits).toEqual([]);
  });

  it("never opens a playlist in a later task either, whatever container a plan claims", async () => {
    // A plan as a forged callback could have made it: the clip's plan, pointed at the playlist.
    const planned = (await plan("clip")) as PlanResult;
    const task: ChunkTask = {
      ...taskEnvelope("hls", "masters/hls/source"),
      kind: "chunk",
      taskId: "chunk-0",
      attempt: 1,
      attemptTag: "c0000-a1-",
      encode: { ...planned.encode, source: { ...planned.encode.source, container: "hls" } },
      chunk: planned.chunks[0] as ChunkTask["chunk"],
    };
    await refusalOf(runTask(task, deps()));
    expect(attacker.hits).toEqual([]);
  });

  it("names refused containers for people, never by ffmpeg's name", () => {
    expect(refusedFormat(["[hls @ 0x55d1c0a2b2c0] Format not on whitelist 'mov,matroska'"])).toBe("hls");
    expect(refusedFormat(["Invalid data found when processing input"])).toBeNull();
    expect(containerRefusal("image2")).toBe(
      "the file is an image, not a video; upload the video file itself, such as MP4, MOV, MKV or WebM",
    );
    expect(containerRefusal("sbg")).toBe(
      "the file is not in a video container Reelstream takes; upload the video file itself, such as MP4, MOV, MKV or WebM",
    );
  });
});
