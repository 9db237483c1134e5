import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { taskEnvelope } from "../../scripts/lib/chunked-job.ts";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import type { PlanResult } from "../../workers/transcoding/contract.ts";
import { makeClip, makeTempDir, tools } from "../test/clips.ts";
import { FsStorage } from "./fs-storage.ts";
import { HttpStorage } from "./http-storage.ts";
import { type RangeProxy, startRangeProxy } from "./range-proxy.ts";
import { runTask } from "./tasks.ts";

/**
 * ffmpeg reads a master through the range proxy, and storage sees closed ranges only, each no
 * larger than the proxy's window, whatever ffmpeg asks (it asks `bytes=N-`).
 */

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let server: StorageServer;
let proxy: RangeProxy;
const token = "proxy-test";
const firstWindowBytes = 64 * 1024;
const maxWindowBytes = 256 * 1024;

beforeAll(async () => {
  temp = await makeTempDir("range-proxy");
  const backing = new FsStorage(join(temp.dir, "storage"));
  server = await startStorageServer(backing, { token });
  proxy = await startRangeProxy({ firstWindowBytes, maxWindowBytes });
  const clip = await makeClip(temp.dir, "clip", { size: "640x360", seconds: 12, output: ["-g", "60", "-b:v", "2M"] });
  await mkdir(dirname(backing.pathFor("masters/clip/source")), { recursive: true });
  await copyFile(clip, backing.pathFor("masters/clip/source"));
  await writeFile(join(temp.dir, "blob.bin"), randomBytes(1_000_000));
  await mkdir(dirname(backing.pathFor("masters/blob/source")), { recursive: true });
  await copyFile(join(temp.dir, "blob.bin"), backing.pathFor("masters/blob/source"));
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await server?.close();
  await temp?.remove();
});

const closedRange = /^bytes=(\d+)-(\d+)$/;

function expectClosedWindows(reads: StorageServer["reads"]): void {
  expect(reads.length).toBeGreaterThan(0);
  for (const { range } of reads) {
    const match = closedRange.exec(range ?? "");
    expect(match, `storage was asked for ${range}`).not.toBeNull();
    expect(Number(match?.[2]) - Number(match?.[1]) + 1).toBeLessThanOrEqual(maxWindowBytes);
  }
}

describe("the range proxy", () => {
  it("answers an open range in full, from closed windows that grow", async () => {
    server.reads.length = 0;
    const base = proxy.register(server.baseUrl);
    const response = await fetch(`${base}/internal/storage/masters/blob/source`, {
      headers: { authorization: `Bearer ${token}`, range: "bytes=100-" },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe("bytes 100-999999/1000000");
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals((await readFile(join(temp.dir, "blob.bin"))).subarray(100))).toBe(true);
    expectClosedWindows(server.reads);
    expect(server.reads.map((read) => read.range).slice(0, 3)).toEqual([
      `bytes=100-${100 + firstWindowBytes - 1}`,
      `bytes=${100 + firstWindowBytes}-${100 + 3 * firstWindowBytes - 1}`,
      `bytes=${100 + 3 * firstWindowBytes}-${100 + 7 * firstWindowBytes - 1}`,
    ]);
  });

  it("passes storage's refusals on, and keeps to the registered storage", async () => {
    const base = proxy.register(server.baseUrl);
    const missing = await fetch(`${base}/internal/storage/masters/none/source`, { headers: { authorization: `Bearer ${token}` } });
    expect(missing.status).toBe(404);
    const unauthorized = await fetch(`${base}/internal/storage/masters/blob/source`);
    expect(unauthorized.status).toBe(401);
    const elsewhere = await fetch(`${base.replace(/\/u\d+$/, "/u99")}/internal/storage/masters/blob/source`);
    expect(elsewhere.status).toBe(404);
  });

  it("stops asking storage when its reader hangs up", async () => {
    server.reads.length = 0;
    const base = proxy.register(server.baseUrl);
    const controller = new AbortController();
    const response = await fetch(`${base}/internal/storage/masters/blob/source`, {
      headers: { authorization: `Bearer ${token}`, range: "bytes=0-" },
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    // A later request answered in full: by then the hang-up has reached the proxy.
    const later = await fetch(`${base}/internal/storage/masters/blob/source`, {
      headers: { authorization: `Bearer ${token}`, range: "bytes=0-9" },
    });
    await later.arrayBuffer();
    const windows = server.reads.filter(({ range }) => range !== "bytes=0-9");
    // Of the six windows the megabyte takes, the first and at most the two after it.
    expect(windows.length).toBeGreaterThan(0);
    expect(windows.length).toBeLessThanOrEqual(3);
  });

  it("serves a plan task: storage sees only closed ranges, and the plan is the same", async () => {
    const plan = (storage: HttpStorage) =>
      runTask(
        {
          ...taskEnvelope("clip", "masters/clip/source"),
          kind: "plan",
          taskId: "plan",
          attempt: 1,
          attemptTag: "plan-a1-",
          chunkSeconds: 4,
        },
        { storage, tools, workRoot: join(temp.dir, "work"), preset: "ultrafast" },
      ) as Promise<PlanResult>;
    server.reads.length = 0;
    const direct = await plan(new HttpStorage(server.baseUrl, token));
    expect(server.reads.some(({ range }) => range !== null && !closedRange.test(range))).toBe(true);

    server.reads.length = 0;
    const proxied = await plan(new HttpStorage(server.baseUrl, token, { rangeProxy: proxy }));
    expectClosedWindows(server.reads);
    expect(proxied.chunks).toEqual(direct.chunks);
    expect(proxied.chunks.length).toBe(3);
  }, 60_000);
});
