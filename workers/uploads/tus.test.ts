import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Upload } from "tus-js-client/lib.esm/browser/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { UploadRecord } from "../../durable-objects/upload-session.ts";
import { signUpAdmin } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { MAX_UPLOAD_BYTES, masterKey, PART_SIZE, uploadScratchPrefix } from "./settings.ts";
import {
  adminStatus,
  createUpload,
  createVideo,
  head,
  patch,
  r2Sha256,
  sha256,
  testBytes,
  tusHeaders,
  WorkerFetchHttpStack,
} from "./test-support.ts";

const MiB = 1024 * 1024;
let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

function sessionOf(path: string) {
  const uploadId = path.split("/").at(-1) ?? "";
  return env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(uploadId));
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
    expect(Date.parse(response.headers.get("Upload-Expires") ?? "")).toBeGreaterThan(Date.now());
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
    // At once after DELETE; after an expiry, as soon as the queue delivers the object's `upload-expired`.
    await expect.poll(async () => (await adminStatus(admin, videoId)).state, { timeout: 10_000 }).toBe("awaiting-upload");
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
    expect(await r2Sha256(masterKey(videoId))).toBe(await sha256(data));
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
    expect(past.status).toBe(400);
    expect(Number((await head(admin, upload)).headers.get("Upload-Offset"))).toBe(40);
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
    expect(await r2Sha256(masterKey(videoId))).toBe(await sha256(data));
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

  async function expectReleased(videoId: string, record: UploadRecord) {
    // The multipart upload is aborted: R2 refuses new parts for it.
    const multipart = env.MEDIA.resumeMultipartUpload(masterKey(videoId), record.multipartUploadId ?? "");
    await expect(multipart.uploadPart(2, new Uint8Array(10))).rejects.toThrow();
    expect((await env.MEDIA.list({ prefix: uploadScratchPrefix(record.uploadId) })).objects).toEqual([]);
    expect(await env.MEDIA.head(masterKey(videoId))).toBeNull();
    // At once after DELETE; after an expiry, as soon as the queue delivers the object's `upload-expired`.
    await expect.poll(async () => (await adminStatus(admin, videoId)).state, { timeout: 10_000 }).toBe("awaiting-upload");
  }

  it("DELETE aborts the multipart upload, deletes the tail and frees the video", async () => {
    const videoId = await createVideo(admin);
    const { upload, record } = await uploadWithOnePart(videoId);
    const viewer = await signUp();
    expect((await call(upload, { method: "DELETE", token: viewer.accessToken, headers: tusHeaders })).status).toBe(403);
    expect((await call(upload, { method: "DELETE", token: admin, headers: tusHeaders })).status).toBe(204);
    await expectReleased(videoId, record);
    expect((await head(admin, upload)).status).toBe(410);
    expect((await patch(admin, upload, record.offset, testBytes(10))).status).toBe(410);
    await createUpload(admin, videoId, 10);
  });

  it("expires an idle upload from its alarm, releasing the same way", async () => {
    const videoId = await createVideo(admin);
    const { upload, record } = await uploadWithOnePart(videoId);
    const stub = sessionOf(upload);
    await runInDurableObject(stub, async (instance) => {
      const state = instance as unknown as { record: UploadRecord };
      state.record = { ...state.record, expiresAt: Date.now() - 1 };
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await expectReleased(videoId, record);
    const gone = await call(upload, { token: admin });
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { detail: string }).detail).toMatch(/expired/);
  });
});
