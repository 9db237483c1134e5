import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { call } from "./helpers.ts";

/** Deterministic bytes (xorshift), so a test can regenerate and hash what it sent. */
export function testBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
    bytes[i + 1] = (x >>> 8) & 0xff;
    bytes[i + 2] = (x >>> 16) & 0xff;
    bytes[i + 3] = (x >>> 24) & 0xff;
  }
  return bytes;
}

export async function sha256(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of an R2 object, streamed (R2 objects here can be tens of MiB). */
export async function r2Sha256(key: string): Promise<string | null> {
  const object = await env.MEDIA.get(key);
  if (!object) return null;
  return sha256(await object.arrayBuffer());
}

export async function createVideo(token: string, title = "Upload test"): Promise<string> {
  const response = await call("/v1/admin/videos", {
    method: "POST",
    token,
    json: { title, summary: "A video made by the upload tests.", genres: ["test"], releaseYear: 2024 },
  });
  expect(response.status).toBe(201);
  const { video } = (await response.json()) as { video: { id: string } };
  return video.id;
}

/**
 * A new video whose master is in (PUT source, `bytes` of it, 64 zero bytes unless given: no
 * transcoder reads them in the Worker's tests): queued, with a transcode job whose plan task waits
 * for its dispatch message.
 */
export async function videoWithQueuedJob(
  token: string,
  title: string,
  bytes: Uint8Array = new Uint8Array(64),
): Promise<{ videoId: string; jobId: string }> {
  const videoId = await createVideo(token, title);
  const response = await call(`/v1/admin/videos/${videoId}/source`, {
    method: "PUT",
    token,
    body: bytes,
    headers: { "Content-Type": "video/mp4" },
  });
  expect(response.status).toBe(202);
  const { jobId } = (await response.json()) as { jobId: string };
  return { videoId, jobId };
}

export const tusHeaders = { "Tus-Resumable": "1.0.0" };

/** tus creation; returns the upload URL's path. */
export async function createUpload(token: string, videoId: string, length: number): Promise<string> {
  const response = await call(`/v1/admin/videos/${videoId}/uploads`, {
    method: "POST",
    token,
    headers: { ...tusHeaders, "Upload-Length": String(length) },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return new URL(response.headers.get("Location") ?? "").pathname;
}

export function patch(token: string, path: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) {
  return call(path, {
    method: "PATCH",
    token,
    body,
    headers: { ...tusHeaders, "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset), ...headers },
  });
}

export async function head(token: string, path: string): Promise<Response> {
  return call(path, { method: "HEAD", token, headers: tusHeaders });
}

export async function adminStatus(token: string, videoId: string) {
  const response = await call(`/v1/admin/videos/${videoId}`, { token });
  expect(response.status).toBe(200);
  return (await response.json()) as { state: string; progress: number | null; error: string | null };
}

/** A tus-js-client transport over the Worker's own fetch handler (workerd has no XMLHttpRequest). */
export class WorkerFetchHttpStack {
  constructor(private readonly token: string) {}
  getName() {
    return "WorkerFetchHttpStack";
  }
  createRequest(method: string, url: string) {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, "CF-Connecting-IP": "198.51.100.7" };
    let controller: AbortController | undefined;
    return {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (name: string, value: string) => {
        headers[name] = value;
      },
      getHeader: (name: string) => headers[name],
      setProgressHandler: () => {},
      send: async (body?: Blob | null) => {
        controller = new AbortController();
        const response = await exports.default.fetch(new Request(url, { method, headers, body: body ?? null, signal: controller.signal }));
        const text = await response.text();
        return {
          getStatus: () => response.status,
          getHeader: (name: string) => response.headers.get(name) ?? undefined,
          getBody: () => text,
          getUnderlyingObject: () => response,
        };
      },
      abort: async () => controller?.abort(),
      getUnderlyingObject: () => null,
    };
  }
}

/** The R2 key of the video's one stored master (each upload writes its own key below `masters/{id}/`). */
export async function storedMasterOf(videoId: string): Promise<string> {
  const { objects } = await env.MEDIA.list({ prefix: `masters/${videoId}/` });
  expect(objects.map((object) => object.key)).toHaveLength(1);
  return objects[0]?.key ?? "";
}
