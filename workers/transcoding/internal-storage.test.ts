import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hlsPrefix } from "../platform/media-layout.ts";
import { signUpAdmin } from "../test/catalog.ts";
import { call } from "../test/helpers.ts";
import { dispatchedTask, freeTheDouble, planResult, report, transcodingEnv } from "../test/transcoding.ts";
import { videoWithQueuedJob } from "../test/uploads.ts";
import { STORAGE_RANGE_MAX_BYTES } from "./contract.ts";
import { signStorageGrant } from "./storage-grant.ts";

/**
 * `/internal/storage`, the transcoder's R2, with the grants dispatch really signs: a task is
 * uploaded, dispatched to the transcoder double, and its grants are used as the transcoder (and
 * ffmpeg) use them. Each grant opens one thing by one method, and only while its attempt runs.
 */

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

const testEnv = transcodingEnv();

beforeEach(freeTheDouble);
// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

function storage(path: string, token: string | undefined, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return call(`/internal/storage${path}`, { ...init, headers, env: testEnv });
}

const put = (key: string, token: string, body = "x") =>
  storage(`/${key}`, token, {
    method: "PUT",
    body,
    headers: { "Content-Length": String(body.length), "Content-Type": "video/iso.segment" },
  });

/** A job with its plan dispatched: the plan task as the transcoder got it. */
async function planTask() {
  const job = await videoWithQueuedJob(admin, "Internal storage", new TextEncoder().encode("source bytes 0123456789"));
  return { ...job, task: await dispatchedTask(job, "plan", testEnv) };
}

/** A job planned in two chunks, with chunk 0 dispatched. */
async function chunkTask() {
  const { task: plan, ...job } = await planTask();
  expect((await report(plan, { type: "done", result: planResult(2) }, testEnv)).status).toBe(204);
  return { ...job, task: await dispatchedTask(job, "chunk-0000", testEnv) };
}

describe("internal storage for the transcoder", () => {
  it("reads the master with the source grant, by ranges, and writes, lists and deletes tagged names with the task grant", async () => {
    const { task } = await planTask();
    const source = `/${task.sourceKey}`;
    const { token, sourceToken } = task.storage;

    const whole = await storage(source, sourceToken);
    expect(whole.status).toBe(200);
    expect(await whole.text()).toBe("source bytes 0123456789");
    // Stored without a type, served as bytes: a typeless response is one Cloudflare would gzip.
    expect(whole.headers.get("Content-Type")).toBe("application/octet-stream");
    const range = await storage(source, sourceToken, { headers: { Range: "bytes=7-11" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("Content-Range")).toBe("bytes 7-11/23");
    expect(await range.text()).toBe("bytes");
    // What ffmpeg asks for when it seeks (a chunk task reading its range): from a byte to the end.
    const rest = await storage(source, sourceToken, { headers: { Range: "bytes=13-" } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get("Content-Range")).toBe("bytes 13-22/23");
    expect(rest.headers.get("Content-Length")).toBe("10");
    expect(await rest.text()).toBe("0123456789");
    // The transcoder's size check before a task (HttpStorage.size).
    const head = await storage(source, sourceToken, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe("23");
    expect(head.headers.get("Accept-Ranges")).toBe("bytes");

    const prefix = hlsPrefix(task.videoId);
    const segment = `${prefix}720p/${task.attemptTag}00001.m4s`;
    expect((await put(segment, token, "segment")).status).toBe(201);
    const stored = await env.MEDIA.get(segment);
    expect(await stored?.text()).toBe("segment");
    expect(stored?.httpMetadata?.contentType).toBe("video/iso.segment");
    expect(await (await storage(`/${segment}`, token)).text()).toBe("segment");
    const list = await storage(`?prefix=${encodeURIComponent(`${prefix}720p/${task.attemptTag}`)}`, token);
    expect(await list.json()).toEqual({ keys: [segment] });
    const deleted = await storage(`?prefix=${encodeURIComponent(`${prefix}720p/${task.attemptTag}`)}`, token, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(await env.MEDIA.head(segment)).toBeNull();
    expect(await env.MEDIA.head(task.sourceKey)).not.toBeNull();
  });

  it("serves every range closed, at most STORAGE_RANGE_MAX_BYTES from its start", async () => {
    const size = STORAGE_RANGE_MAX_BYTES + 3 * 1024 * 1024;
    const bytes = new Uint8Array(size).map((_, index) => index % 251);
    const job = await videoWithQueuedJob(admin, "Internal storage", bytes);
    const task = await dispatchedTask(job, "plan", testEnv);
    const read = (range: string) => storage(`/${task.sourceKey}`, task.storage.sourceToken, { headers: { Range: range } });

    // An open range (what ffmpeg sends) is answered with the first window of it; the reader asks again from there.
    const open = await read("bytes=100-");
    expect(open.status).toBe(206);
    expect(open.headers.get("Content-Range")).toBe(`bytes 100-${100 + STORAGE_RANGE_MAX_BYTES - 1}/${size}`);
    const body = new Uint8Array(await open.arrayBuffer());
    expect(body.length).toBe(STORAGE_RANGE_MAX_BYTES);
    expect(body.subarray(0, 4)).toEqual(bytes.subarray(100, 104));
    // A closed range longer than the window, likewise; one that ends at the object's end, in full.
    const long = await read(`bytes=0-${size - 1}`);
    expect(long.headers.get("Content-Range")).toBe(`bytes 0-${STORAGE_RANGE_MAX_BYTES - 1}/${size}`);
    await long.body?.cancel();
    const tail = await read(`bytes=${STORAGE_RANGE_MAX_BYTES}-`);
    expect(tail.headers.get("Content-Range")).toBe(`bytes ${STORAGE_RANGE_MAX_BYTES}-${size - 1}/${size}`);
    expect((await tail.arrayBuffer()).byteLength).toBe(size - STORAGE_RANGE_MAX_BYTES);
  });

  it("opens one thing by one method per grant: the source grant reads the master only, the task grant never the master or an untagged name", async () => {
    const { task } = await planTask();
    const { task: other } = await planTask();
    const { token, sourceToken } = task.storage;
    const prefix = hlsPrefix(task.videoId);
    // ffmpeg's grant (the one an uploaded playlist could have leaked): nothing but GET and HEAD of its master.
    for (const response of [
      await put(`${prefix}720p/${task.attemptTag}00001.m4s`, sourceToken),
      await put(task.sourceKey, sourceToken),
      await storage(`/${other.sourceKey}`, sourceToken),
      await storage(`/${prefix}master.m3u8`, sourceToken),
      await storage(`?prefix=${encodeURIComponent(prefix)}`, sourceToken),
      await storage(`?prefix=${encodeURIComponent(prefix)}`, sourceToken, { method: "DELETE" }),
    ])
      expect(response.status).toBe(403);
    // Its callbacks are refused too: it reports nothing.
    const asSource = { ...task, storage: { ...task.storage, token: sourceToken } };
    expect((await report(asSource, { type: "progress", percent: 1 }, testEnv)).status).toBe(403);

    // The task's grant: never the master, never a name without its tag (the published master
    // playlist above all), nothing of another video, nothing above its prefix.
    for (const response of [
      await storage(`/${task.sourceKey}`, token),
      await put(`${prefix}master.m3u8`, token, "#EXTM3U"),
      await put(`${prefix}720p/c0000-a1-00001.m4s`, token),
      await put(`${hlsPrefix(other.videoId)}${task.attemptTag}x.m4s`, token),
      await put(task.sourceKey, token),
      await storage(`?prefix=videos/`, token, { method: "DELETE" }),
      await storage(`?prefix=${encodeURIComponent(prefix)}`, token, { method: "DELETE" }),
      await storage(`?prefix=masters/`, token),
      // `..` is resolved by URL parsing before the Worker sees it: the result is judged like any key.
      await storage(`/${prefix}../../../${other.sourceKey}`, token),
    ])
      expect(response.status).toBe(403);
    expect(await env.MEDIA.head(`${prefix}master.m3u8`)).toBeNull();
    expect((await storage(`/${prefix}a//b.m4s`, token)).status).toBe(400);
  });

  it("kills a grant with its attempt: a failed attempt's grants are refused while the next attempt's work", async () => {
    const { task: dead, ...job } = await chunkTask();
    const prefix = hlsPrefix(job.videoId);
    expect((await put(`${prefix}240p/${dead.attemptTag}00000.m4s`, dead.storage.token)).status).toBe(201);
    // The attempt fails (a crash: worth another try), and the task gets a new attempt.
    const crash = { type: "failed" as const, retryable: true, reason: "transcoder error: out of memory" };
    expect((await report(dead, crash, testEnv)).status).toBe(204);
    const alive = await dispatchedTask(job, "chunk-0000", testEnv);
    expect(alive.attempt).toBe(2);

    const refused = await put(`${prefix}240p/${dead.attemptTag}00001.m4s`, dead.storage.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/attempt 1 of chunk-0000 is no longer valid/);
    expect((await storage(`/${dead.sourceKey}`, dead.storage.sourceToken)).status).toBe(403);
    const leftovers = `${prefix}240p/${dead.attemptTag}`;
    expect((await storage(`?prefix=${encodeURIComponent(leftovers)}`, dead.storage.token, { method: "DELETE" })).status).toBe(403);
    expect(await env.MEDIA.head(`${prefix}240p/${dead.attemptTag}00001.m4s`)).toBeNull();

    expect((await put(`${prefix}240p/${alive.attemptTag}00000.m4s`, alive.storage.token)).status).toBe(201);
    expect((await storage(`/${alive.sourceKey}`, alive.storage.sourceToken)).status).toBe(200);
  });

  it("removes what an attempt was writing when its job failed meanwhile (409), so nothing outlives the job's cleanup", async () => {
    const { task, ...job } = await chunkTask();
    const key = `${hlsPrefix(job.videoId)}240p/${task.attemptTag}00000.m4s`;
    const { readable: body, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const send = writable.getWriter();
    const writing = storage(`/${key}`, task.storage.token, { method: "PUT", body, headers: { "Content-Length": "8" } });
    void send.write(new TextEncoder().encode("half"));
    // The job fails while the body is on its way (another chunk found the source truncated).
    const other = await dispatchedTask(job, "chunk-0001", testEnv);
    const refusal = { type: "failed" as const, retryable: false, reason: "file is truncated at 14.0 s of 20.0 s" };
    expect((await report(other, refusal, testEnv)).status).toBe(204);
    void send.write(new TextEncoder().encode("done"));
    void send.close();
    const answer = await writing;
    expect(answer.status).toBe(409);
    expect(((await answer.json()) as { detail: string }).detail).toMatch(/ended while .* was written; the object was removed/);
    expect((await env.MEDIA.list({ prefix: hlsPrefix(job.videoId) })).objects).toEqual([]);
  });

  it("refuses expired and forged grants (403) and a missing one (401)", async () => {
    const { task } = await planTask();
    const path = `/${task.sourceKey}`;
    const payload = { scope: "source" as const, job: task.jobId, task: task.taskId, attempt: task.attempt, key: task.sourceKey };
    const expired = await storage(
      path,
      await signStorageGrant(env.INTERNAL_SIGNING_SECRET, { ...payload, exp: Math.floor(Date.now() / 1000) - 1 }),
    );
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { detail: string }).detail).toMatch(/expired/);
    const forged = await signStorageGrant("not-the-server-secret-0123456789abcdef", {
      ...payload,
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    expect((await storage(path, forged)).status).toBe(403);
    // A valid signature over another payload does not transfer.
    const [, signature] = task.storage.sourceToken.split(".");
    const [otherPayload] = task.storage.token.split(".");
    expect((await storage(path, `${otherPayload}.${signature}`)).status).toBe(403);
    expect((await storage(path, undefined)).status).toBe(401);
  });

  it("requires Content-Length on PUT (411) and is not in the OpenAPI document", async () => {
    const { task } = await planTask();
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("x"));
        controller.close();
      },
    });
    expect((await storage(`/${task.outputPrefix}${task.attemptTag}a.m4s`, task.storage.token, { method: "PUT", body })).status).toBe(411);
    const openapi = (await (await call("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).some((path) => path.startsWith("/internal"))).toBe(false);
  });
});
