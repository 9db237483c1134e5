import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Upload } from "tus-js-client/lib.esm/browser/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import { type UploadRecord, WRITE_LEASE_MS } from "../../durable-objects/upload-session.ts";
import { MASTER_RETENTION_MS, sweepDeletedMasters } from "../platform/master-retention.ts";
import { deletedMasterMarkerKey, uploadScratchPrefix } from "../platform/media-layout.ts";
import { problemOf, signUpAdmin, withTestServices } from "../test/catalog.ts";
import { advanceClock, call, clockNow, deliverQueueMessage, signUp } from "../test/helpers.ts";
import {
  adminStatus,
  createUpload,
  createVideo,
  head,
  patch,
  r2Sha256,
  sha256,
  storedMasterOf,
  testBytes,
  tusHeaders,
  WorkerFetchHttpStack,
} from "../test/uploads.ts";
import { MAX_UPLOAD_BYTES, PART_SIZE, UPLOAD_IDLE_EXPIRY_MS } from "./settings.ts";

const MiB = 1024 * 1024;
let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

function sessionOf(path: string) {
  const uploadId = path.split("/").at(-1) ?? "";
  return env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(uploadId));
}

/** A streamed body (sent without Content-Length), delivered in 64 KiB chunks. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + 65536));
      at += 65536;
    },
  });
}

/** Where the upload's master is assembled (its record says). */
async function masterOf(path: string): Promise<string> {
  return ((await sessionOf(path).status()) as UploadRecord).masterKey;
}

/** A new 10-byte upload of a new video, and a PATCH's write lease on it (the PATCH itself is the test's to play). */
async function tenByteUploadWithLease() {
  const videoId = await createVideo(admin);
  const upload = await createUpload(admin, videoId, 10);
  const stub = sessionOf(upload);
  const lastPatch = await stub.beginWrite(0);
  if (!lastPatch.ok) throw new Error("no lease");
  return { videoId, upload, stub, lastPatch };
}

/** A slow body: `first` at once, the rest when the test calls `release()`. */
function slowBody(first: Uint8Array, rest: Uint8Array) {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let step = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      step++;
      if (step === 1) controller.enqueue(first);
      else if (step === 2) {
        await gate;
        for (let at = 0; at < rest.byteLength; at += 1024 * 1024) controller.enqueue(rest.slice(at, at + 1024 * 1024));
      } else controller.close();
    },
  });
  return { body, release };
}

/** Resolves once a PATCH holds the upload's write lease: it is in flight, past its checks. */
async function writing(path: string): Promise<void> {
  await expect
    .poll(() => runInDurableObject(sessionOf(path), (instance) => (instance as unknown as { writer: unknown }).writer !== null), {
      interval: 20,
    })
    .toBe(true);
}

/** A body that delivers `bytes` and then fails, as a connection that drops mid-PATCH does. */
function droppingBody(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes);
      } else {
        controller.error(new Error("connection reset by peer"));
      }
    },
  });
}

describe("tus discovery", () => {
  it("OPTIONS advertises version, extensions and the maximum size, with CORS for browsers", async () => {
    const response = await call("/v1/admin/uploads/0123456789abcdef0123456789abcdef", {
      method: "OPTIONS",
      headers: { Origin: "https://admin.example", "Access-Control-Request-Method": "PATCH" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("Tus-Version")).toBe("1.0.0");
    expect(response.headers.get("Tus-Extension")).toBe("creation,termination");
    expect(response.headers.get("Tus-Max-Size")).toBe(String(MAX_UPLOAD_BYTES));
    expect(response.headers.get("Access-Control-Allow-Headers")).toMatch(/Upload-Offset/);
  });
});

describe("tus creation", () => {
  it("creates an upload: 201 with Location and Upload-Expires, and the video is uploading", async () => {
    const videoId = await createVideo(admin);
    const response = await call(`/v1/admin/videos/${videoId}/uploads`, {
      method: "POST",
      token: admin,
      headers: { ...tusHeaders, "Upload-Length": "1000", "Upload-Metadata": `filename ${btoa("clip.mp4")},filetype ${btoa("video/mp4")}` },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("Location")).toMatch(/\/v1\/admin\/uploads\/[0-9a-f]{32}$/);
    expect(response.headers.get("Tus-Resumable")).toBe("1.0.0");
    expect(Date.parse(response.headers.get("Upload-Expires") ?? "")).toBeGreaterThan(clockNow());
    expect((await adminStatus(admin, videoId)).state).toBe("uploading");
    const path = new URL(response.headers.get("Location") ?? "").pathname;
    const status = await head(admin, path);
    expect(status.status).toBe(200);
    expect(status.headers.get("Upload-Offset")).toBe("0");
    expect(status.headers.get("Upload-Length")).toBe("1000");
    expect(status.headers.get("Cache-Control")).toBe("no-store");
    expect((await sessionOf(path).status())?.metadata).toEqual({ filename: "clip.mp4", filetype: "video/mp4" });
  });

  it("refuses a second upload for the same video (409) until the first is terminated", async () => {
    const videoId = await createVideo(admin);
    const first = await createUpload(admin, videoId, 10);
    const second = await call(`/v1/admin/videos/${videoId}/uploads`, {
      method: "POST",
      token: admin,
      headers: { ...tusHeaders, "Upload-Length": "10" },
    });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { detail: string }).detail).toMatch(/already in progress/);
    expect((await call(first, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    await createUpload(admin, videoId, 10);
  });

  it("answers 412 without Tus-Resumable, 400 without Upload-Length, 413 over the maximum size", async () => {
    const videoId = await createVideo(admin);
    const path = `/v1/admin/videos/${videoId}/uploads`;
    const noVersion = await call(path, { method: "POST", token: admin, headers: { "Upload-Length": "10" } });
    expect(noVersion.status).toBe(412);
    expect(noVersion.headers.get("Tus-Version")).toBe("1.0.0");
    expect(noVersion.headers.get("Content-Type")).toBe("application/problem+json");
    expect((await call(path, { method: "POST", token: admin, headers: tusHeaders })).status).toBe(400);
    const tooBig = await call(path, {
      method: "POST",
      token: admin,
      headers: { ...tusHeaders, "Upload-Length": String(MAX_UPLOAD_BYTES + 1) },
    });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { detail: string }).detail).toMatch(/largest master accepted/);
    // No upload was started.
    expect((await adminStatus(admin, videoId)).state).toBe("awaiting-upload");
  });

  it("is admin only: 401 without a token, 403 for a viewer", async () => {
    const videoId = await createVideo(admin);
    const viewer = await signUp();
    const path = `/v1/admin/videos/${videoId}/uploads`;
    const headers = { ...tusHeaders, "Upload-Length": "10" };
    const anonymous = await call(path, { method: "POST", headers });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("Tus-Resumable")).toBe("1.0.0");
    expect((await call(path, { method: "POST", headers, token: viewer.accessToken })).status).toBe(403);
    const upload = await createUpload(admin, videoId, 10);
    expect((await patch(viewer.accessToken, upload, 0, new Uint8Array(10))).status).toBe(403);
    expect((await head(viewer.accessToken, upload)).status).toBe(403);
  });
});

describe("tus core", () => {
  it("assembles chunks smaller and larger than a part, across a dropped PATCH, into the exact bytes sent", async () => {
    const videoId = await createVideo(admin);
    const data = testBytes(3 * PART_SIZE + 123_457, 7);
    const upload = await createUpload(admin, videoId, data.byteLength);
    // Small chunks (below a part), one that crosses a part boundary, one of two whole parts.
    const chunks = [1 * MiB, 300_001, 9 * MiB, 64 * 1024, 2 * PART_SIZE - 5 * MiB];
    let offset = 0;
    for (const size of chunks) {
      const response = await patch(admin, upload, offset, data.slice(offset, offset + size));
      expect(response.status, await response.clone().text()).toBe(204);
      offset += size;
      expect(response.headers.get("Upload-Offset")).toBe(String(offset));
      expect(response.headers.get("Tus-Resumable")).toBe("1.0.0");
    }
    const midway = await adminStatus(admin, videoId);
    expect(midway.state).toBe("uploading");
    expect(midway.progress).toBeCloseTo(offset / data.byteLength, 2);

    // The connection drops after 700 KB of a 2 MiB chunk: HEAD says where to resume.
    const dropped = await patch(admin, upload, offset, droppingBody(data.slice(offset, offset + 700_000)));
    expect(dropped.status).toBe(204);
    const resumed = Number((await head(admin, upload)).headers.get("Upload-Offset"));
    expect(resumed).toBeGreaterThanOrEqual(offset);
    expect(resumed).toBeLessThanOrEqual(offset + 700_000);
    offset = resumed;

    const last = await patch(admin, upload, offset, data.slice(offset));
    expect(last.status).toBe(204);
    expect(last.headers.get("Upload-Offset")).toBe(String(data.byteLength));
    expect(await r2Sha256(await masterOf(upload))).toBe(await sha256(data));
    expect((await adminStatus(admin, videoId)).state).toBe("queued");
    expect((await env.MEDIA.list({ prefix: uploadScratchPrefix(upload.split("/").at(-1) ?? "") })).objects).toEqual([]);
    // The upload is over: more bytes are refused.
    expect((await patch(admin, upload, data.byteLength, new Uint8Array(0))).status).toBe(409);
  });

  it("answers 409 with the current offset for a wrong Upload-Offset, 412 without Tus-Resumable, 415 for another Content-Type", async () => {
    const videoId = await createVideo(admin);
    const upload = await createUpload(admin, videoId, 100);
    expect((await patch(admin, upload, 0, testBytes(40))).status).toBe(204);
    const wrong = await patch(admin, upload, 10, testBytes(40));
    expect(wrong.status).toBe(409);
    expect(wrong.headers.get("Upload-Offset")).toBe("40");
    expect(((await wrong.json()) as { detail: string }).detail).toMatch(/resume from 40/);
    const noVersion = await patch(admin, upload, 40, testBytes(10), { "Tus-Resumable": "" });
    expect(noVersion.status).toBe(412);
    expect((await patch(admin, upload, 40, testBytes(10), { "Content-Type": "video/mp4" })).status).toBe(415);
    const past = await patch(admin, upload, 40, testBytes(61));
    expect(past.status).toBe(413);
    expect(Number((await head(admin, upload)).headers.get("Upload-Offset"))).toBe(40);
  });

  it("refuses a body longer than Upload-Length with 413, with or without Content-Length, and keeps nothing of it", async () => {
    const videoId = await createVideo(admin);
    const data = testBytes(100, 5);
    const upload = await createUpload(admin, videoId, 100);
    expect((await patch(admin, upload, 0, data.slice(0, 40))).status).toBe(204);
    // A streamed body (no Content-Length) 21 bytes longer than what the upload lacks: tus says refuse, not cut short.
    const streamed = await patch(admin, upload, 40, streamOf(testBytes(81, 9)));
    expect(streamed.status).toBe(413);
    expect((await problemOf(streamed)).detail).toMatch(/past Upload-Length 100/);
    expect(streamed.headers.get("Upload-Offset")).toBe("40");
    expect(Number((await head(admin, upload)).headers.get("Upload-Offset"))).toBe(40);
    expect((await adminStatus(admin, videoId)).state).toBe("uploading");
    // The right bytes still complete it, exactly.
    expect((await patch(admin, upload, 40, data.slice(40))).status).toBe(204);
    expect(await r2Sha256(await masterOf(upload))).toBe(await sha256(data));
  });

  it("refuses a streamed body that overflows after whole parts: the parts stay, the rest is refused", async () => {
    const videoId = await createVideo(admin);
    const length = PART_SIZE + 1000;
    const data = testBytes(length, 6);
    const upload = await createUpload(admin, videoId, length);
    const overflowing = new Uint8Array(length + 10);
    overflowing.set(data);
    const response = await patch(admin, upload, 0, streamOf(overflowing));
    expect(response.status).toBe(413);
    expect(response.headers.get("Upload-Offset")).toBe(String(PART_SIZE));
    expect((await patch(admin, upload, PART_SIZE, data.slice(PART_SIZE))).status).toBe(204);
    expect(await r2Sha256(await masterOf(upload))).toBe(await sha256(data));
  });

  it("works with the real tus-js-client (chunked, resumable)", async () => {
    const videoId = await createVideo(admin);
    const data = testBytes(PART_SIZE + 3 * MiB + 17, 11);
    const endpoint = `http://reelstream.test/v1/admin/videos/${videoId}/uploads`;
    const progress: number[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new Upload(new Blob([data]), {
        endpoint,
        chunkSize: 3 * MiB,
        retryDelays: [0, 100],
        metadata: { filename: "client.mp4" },
        storeFingerprintForResuming: false,
        httpStack: new WorkerFetchHttpStack(admin),
        onProgress: (sent) => progress.push(sent),
        onError: reject,
        onSuccess: () => resolve(upload.url ?? ""),
      });
      upload.start();
    });
    expect(url).toMatch(/\/v1\/admin\/uploads\//);
    expect(await r2Sha256(await storedMasterOf(videoId))).toBe(await sha256(data));
    expect((await adminStatus(admin, videoId)).state).toBe("queued");
  });
});

describe("tus termination and expiry", () => {
  async function uploadWithOnePart(videoId: string) {
    const upload = await createUpload(admin, videoId, 2 * PART_SIZE);
    expect((await patch(admin, upload, 0, testBytes(PART_SIZE + 1000, 3))).status).toBe(204);
    const record = (await sessionOf(upload).status()) as UploadRecord;
    expect(record.parts).toHaveLength(1);
    expect(record.multipartUploadId).toBeTruthy();
    return { upload, record };
  }

  async function expectReleased(videoId: string, record: UploadRecord, admin: string) {
    // The multipart upload is aborted: R2 refuses new parts for it.
    const multipart = env.MEDIA.resumeMultipartUpload(record.masterKey, record.multipartUploadId ?? "");
    await expect(multipart.uploadPart(2, new Uint8Array(10))).rejects.toThrow();
    expect((await env.MEDIA.list({ prefix: uploadScratchPrefix(record.uploadId) })).objects).toEqual([]);
    expect(await env.MEDIA.head(record.masterKey)).toBeNull();
    // At once after DELETE; after an expiry, as soon as the queue delivers the object's `upload-expired`.
    await expect.poll(async () => (await adminStatus(admin, videoId)).state, { timeout: 10_000 }).toBe("awaiting-upload");
  }

  it("DELETE aborts the multipart upload, deletes the tail and frees the video", async () => {
    const videoId = await createVideo(admin);
    const { upload, record } = await uploadWithOnePart(videoId);
    const viewer = await signUp();
    expect((await call(upload, { method: "DELETE", token: viewer.accessToken, headers: tusHeaders })).status).toBe(403);
    expect((await call(upload, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    await expectReleased(videoId, record, admin);
    expect((await head(admin, upload)).status).toBe(410);
    expect((await patch(admin, upload, record.offset, testBytes(10))).status).toBe(410);
    await createUpload(admin, videoId, 10);
  });

  it("expires an idle upload from its alarm, releasing the same way", async () => {
    const videoId = await createVideo(admin);
    const { upload, record } = await uploadWithOnePart(videoId);
    const stub = sessionOf(upload);
    // A day without a PATCH; the admin signs in again.
    advanceClock(UPLOAD_IDLE_EXPIRY_MS);
    const later = (await signUpAdmin()).accessToken;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await expectReleased(videoId, record, later);
    const gone = await call(upload, { token: later });
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { detail: string }).detail).toMatch(/expired/);
  });

  it("keeps an upload whose PATCHes keep coming: each moves the expiry a day on, and an alarm before it releases nothing", async () => {
    const videoId = await createVideo(admin);
    const { upload, record } = await uploadWithOnePart(videoId);
    const stub = sessionOf(upload);
    // A minute before the upload would expire, a PATCH arrives.
    advanceClock(UPLOAD_IDLE_EXPIRY_MS - 60_000);
    const later = (await signUpAdmin()).accessToken;
    expect((await patch(later, upload, record.offset, testBytes(1000, 5))).status).toBe(204);
    // Past the first expiry: the alarm finds the upload still has time.
    advanceClock(120_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.status())?.phase).toBe("active");
    expect((await head(later, upload)).status).toBe(200);
    // A whole day after that PATCH, it expires.
    advanceClock(UPLOAD_IDLE_EXPIRY_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.status())?.phase).toBe("expired");
  });
});

describe("tus termination keeps a whole master for the retention (production locks masters)", () => {
  it("marks the assembled master of a terminated upload deleted instead of deleting it; the sweep removes it 30 days on", async () => {
    // The last PATCH assembled the master, then died before queueing the video: its lease lapses.
    const { upload, stub, lastPatch } = await tenByteUploadWithLease();
    const master = await masterOf(upload);
    await env.MEDIA.put(master, testBytes(10, 31));
    expect(await stub.markAssembled(lastPatch.token)).toMatchObject({ ok: true });
    advanceClock(WRITE_LEASE_MS);
    const terminatedAt = clockNow();
    expect((await call(upload, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    expect(await env.MEDIA.head(master)).not.toBeNull();
    const marker = deletedMasterMarkerKey(master);
    const deletedAt = Number((await env.MEDIA.head(marker))?.customMetadata?.deletedAt);
    expect(deletedAt).toBeGreaterThanOrEqual(terminatedAt);
    // The tombstone's alarm sweeps the upload's keys once more: it marks, it does not delete.
    advanceClock(UPLOAD_IDLE_EXPIRY_MS);
    await runDurableObjectAlarm(stub);
    expect(await env.MEDIA.head(master)).not.toBeNull();
    const sweepAt = (ms: number) => withTestServices(sweepDeletedMasters, { clock: { now: () => ms } });
    const day = 24 * 60 * 60 * 1000;
    await sweepAt(deletedAt + MASTER_RETENTION_MS - day);
    expect(await env.MEDIA.head(master)).not.toBeNull();
    await sweepAt(deletedAt + MASTER_RETENTION_MS + day);
    expect(await env.MEDIA.head(master)).toBeNull();
    expect(await env.MEDIA.head(marker)).toBeNull();
  });
});

describe("tus: a terminated upload never overwrites a newer one", () => {
  it("refuses the slow PATCH of a terminated upload with 410, and the newer master is the one queued", async () => {
    const videoId = await createVideo(admin);
    const old = testBytes(200_000, 21);
    const upload = await createUpload(admin, videoId, old.byteLength);
    const slow = slowBody(old.slice(0, 100_000), old.slice(100_000));
    const inFlight = patch(admin, upload, 0, slow.body);
    await writing(upload);
    expect((await call(upload, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    const newer = testBytes(150_000, 22);
    const put = await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: admin, body: newer });
    expect(put.status, await put.clone().text()).toBe(202);
    slow.release();
    const late = await inFlight;
    expect(late.status).toBe(410);
    expect((await problemOf(late)).detail).toMatch(/terminated.*nothing it sent after that was kept/);
    // One master is stored, the newer one, and the video is queued from it.
    expect(await r2Sha256(await storedMasterOf(videoId))).toBe(await sha256(newer));
    expect((await adminStatus(admin, videoId)).state).toBe("queued");
    expect((await sessionOf(upload).status())?.phase).toBe("terminated");
  });

  it("writes nothing after termination: a large PATCH in flight creates no multipart upload and no part", async () => {
    const videoId = await createVideo(admin);
    const data = testBytes(PART_SIZE + 2 * MiB, 23);
    const upload = await createUpload(admin, videoId, data.byteLength);
    const slow = slowBody(data.slice(0, MiB), data.slice(MiB));
    const inFlight = patch(admin, upload, 0, slow.body);
    await writing(upload);
    expect((await call(upload, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    slow.release();
    expect((await inFlight).status).toBe(410);
    const record = (await sessionOf(upload).status()) as UploadRecord;
    expect(record).toMatchObject({ phase: "terminated", multipartUploadId: null, parts: [] });
    expect((await env.MEDIA.list({ prefix: `masters/${videoId}/` })).objects).toEqual([]);
    expect((await env.MEDIA.list({ prefix: uploadScratchPrefix(record.uploadId) })).objects).toEqual([]);
    // The video was given back at once: a new upload may start.
    expect((await adminStatus(admin, videoId)).state).toBe("awaiting-upload");
  });

  it("never frees a newer upload when an old upload's expiry is delivered again", async () => {
    const videoId = await createVideo(admin);
    const first = await createUpload(admin, videoId, 10);
    const firstId = first.split("/").at(-1) ?? "";
    advanceClock(UPLOAD_IDLE_EXPIRY_MS);
    const later = (await signUpAdmin()).accessToken;
    expect(await runDurableObjectAlarm(sessionOf(first))).toBe(true);
    await expect.poll(async () => (await adminStatus(later, videoId)).state, { timeout: 10_000 }).toBe("awaiting-upload");
    const second = await createUpload(later, videoId, 10);
    // The queue delivers at least once: the first upload's expiry arrives again, and is done with.
    const redelivered = await deliverQueueMessage({ kind: "upload-expired", uploadId: firstId, videoId });
    expect(redelivered.explicitAcks).toHaveLength(1);
    expect(redelivered.retryMessages).toEqual([]);
    // ...and so does a late DELETE of the first upload.
    expect((await call(first, { method: "DELETE", token: later, headers: tusHeaders })).status).toBe(204);
    expect((await adminStatus(later, videoId)).state).toBe("uploading");
    const bytes = testBytes(10, 24);
    expect((await patch(later, second, 0, bytes)).status).toBe(204);
    expect((await adminStatus(later, videoId)).state).toBe("queued");
    expect(await r2Sha256(await storedMasterOf(videoId))).toBe(await sha256(bytes));
  });
});

describe("UploadSession: the write fence", () => {
  it("refuses every write step of a PATCH that lost its lease, and never hands out a part number twice", async () => {
    const videoId = await createVideo(admin);
    const upload = await createUpload(admin, videoId, 3 * PART_SIZE);
    const stub = sessionOf(upload);
    const first = await stub.beginWrite(0);
    if (!first.ok) throw new Error("no lease");
    const reserved = await stub.reservePart(first.token);
    expect(reserved).toMatchObject({ ok: true, partNumber: 1 });
    // A retry while the first PATCH holds the lease waits; once the first has stalled for a whole lease, it takes over.
    expect(await stub.beginWrite(0)).toMatchObject({ ok: false, reason: "busy" });
    advanceClock(WRITE_LEASE_MS);
    const second = await stub.beginWrite(0);
    if (!second.ok) throw new Error("no lease for the retry");
    expect(await stub.reservePart(second.token)).toMatchObject({ ok: true, partNumber: 2 });
    for (const step of [
      stub.reservePart(first.token),
      stub.commitPart(first.token, { partNumber: 1, etag: "x" }),
      stub.commitTail(first.token, "uploads/x/tail", 10),
      stub.markAssembled(first.token),
      stub.checkWrite(first.token),
    ]) {
      expect(await step).toMatchObject({ ok: false, reason: "lease-lost" });
    }
  });

  it("does not terminate an upload whose last PATCH is queueing its video; the PATCH finishes it", async () => {
    // The last PATCH has assembled the master and, still holding its lease, is queueing the video.
    const { videoId, upload, stub, lastPatch } = await tenByteUploadWithLease();
    expect(await stub.markAssembled(lastPatch.token)).toMatchObject({ ok: true, record: { phase: "assembled", offset: 10 } });
    const refused = await call(upload, { method: "DELETE", token: admin, headers: tusHeaders });
    expect(refused.status).toBe(409);
    expect((await problemOf(refused)).detail).toMatch(/being queued/);
    expect((await adminStatus(admin, videoId)).state).toBe("uploading");
  });
});
