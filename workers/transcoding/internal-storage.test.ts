import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hlsPrefix, masterKey } from "../platform/media-layout.ts";
import { call } from "../test/helpers.ts";
import { STORAGE_RANGE_MAX_BYTES } from "./contract.ts";
import { signStorageGrant } from "./storage-grant.ts";

const secret = env.INTERNAL_SIGNING_SECRET;

function grantFor(videoId: string, overrides: { exp?: number; secret?: string } = {}) {
  return signStorageGrant(overrides.secret ?? secret, {
    job: `job-${videoId}`,
    read: [masterKey(videoId, "upload-1")],
    prefix: hlsPrefix(videoId),
    exp: overrides.exp ?? Math.floor(Date.now() / 1000) + 600,
  });
}

function storage(path: string, token: string | undefined, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return call(`/internal/storage${path}`, { ...init, headers });
}

function newVideoId() {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 20);
}

describe("internal storage for the transcoder", () => {
  it("reads the source, writes, lists and deletes below the job's prefix", async () => {
    const videoId = newVideoId();
    await env.MEDIA.put(masterKey(videoId, "upload-1"), "source bytes 0123456789");
    const token = await grantFor(videoId);

    const source = await storage(`/${masterKey(videoId, "upload-1")}`, token);
    expect(source.status).toBe(200);
    expect(new TextDecoder().decode(await source.arrayBuffer())).toBe("source bytes 0123456789");
    // Stored without a type, served as bytes: a typeless response is one Cloudflare would gzip.
    expect(source.headers.get("Content-Type")).toBe("application/octet-stream");
    const range = await storage(`/${masterKey(videoId, "upload-1")}`, token, { headers: { Range: "bytes=7-11" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("Content-Range")).toBe("bytes 7-11/23");
    expect(new TextDecoder().decode(await range.arrayBuffer())).toBe("bytes");
    // What ffmpeg asks for when it seeks (a chunk task reading its range): from a byte to the end.
    const rest = await storage(`/${masterKey(videoId, "upload-1")}`, token, { headers: { Range: "bytes=13-" } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get("Content-Range")).toBe("bytes 13-22/23");
    expect(rest.headers.get("Content-Length")).toBe("10");
    expect(new TextDecoder().decode(await rest.arrayBuffer())).toBe("0123456789");
    // The transcoder's size check before a task (HttpStorage.size).
    const head = await storage(`/${masterKey(videoId, "upload-1")}`, token, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe("23");
    expect(head.headers.get("Accept-Ranges")).toBe("bytes");

    const playlist = `${hlsPrefix(videoId)}720p/index.m3u8`;
    const put = await storage(`/${playlist}`, token, {
      method: "PUT",
      body: "#EXTM3U\n",
      headers: { "Content-Type": "application/vnd.apple.mpegurl", "Content-Length": "8" },
    });
    expect(put.status).toBe(201);
    const stored = await env.MEDIA.get(playlist);
    expect(await stored?.text()).toBe("#EXTM3U\n");
    expect(stored?.httpMetadata?.contentType).toBe("application/vnd.apple.mpegurl");

    const list = await storage(`?prefix=${encodeURIComponent(hlsPrefix(videoId))}`, token);
    expect(await list.json()).toEqual({ keys: [playlist] });
    const deleted = await storage(`?prefix=${encodeURIComponent(hlsPrefix(videoId))}`, token, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(await env.MEDIA.head(playlist)).toBeNull();
    expect(await env.MEDIA.head(masterKey(videoId, "upload-1"))).not.toBeNull();
  });

  it("serves every range closed, at most STORAGE_RANGE_MAX_BYTES from its start", async () => {
    const videoId = newVideoId();
    const size = STORAGE_RANGE_MAX_BYTES + 3 * 1024 * 1024;
    const bytes = new Uint8Array(size).map((_, index) => index % 251);
    await env.MEDIA.put(masterKey(videoId, "upload-1"), bytes);
    const token = await grantFor(videoId);
    const read = (range: string) => storage(`/${masterKey(videoId, "upload-1")}`, token, { headers: { Range: range } });

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

  it("refuses keys outside the grant (403): another video, writing the source, deleting above the prefix", async () => {
    const videoId = newVideoId();
    const other = newVideoId();
    await env.MEDIA.put(masterKey(other, "upload-1"), "someone else's master");
    const token = await grantFor(videoId);
    expect((await storage(`/${masterKey(other, "upload-1")}`, token)).status).toBe(403);
    expect(
      (await storage(`/${hlsPrefix(other)}x.m4s`, token, { method: "PUT", body: "x", headers: { "Content-Length": "1" } })).status,
    ).toBe(403);
    expect(
      (await storage(`/${masterKey(videoId, "upload-1")}`, token, { method: "PUT", body: "x", headers: { "Content-Length": "1" } })).status,
    ).toBe(403);
    expect((await storage(`?prefix=videos/`, token, { method: "DELETE" })).status).toBe(403);
    expect((await storage(`?prefix=masters/`, token)).status).toBe(403);
    // `..` is resolved by URL parsing before the Worker sees it: the result is judged like any key.
    expect((await storage(`/${hlsPrefix(videoId)}../../../${masterKey(other, "upload-1")}`, token)).status).toBe(403);
    expect((await storage(`/${hlsPrefix(videoId)}a//b.m4s`, token)).status).toBe(400);
  });

  it("refuses expired and forged grants (403) and a missing one (401)", async () => {
    const videoId = newVideoId();
    await env.MEDIA.put(masterKey(videoId, "upload-1"), "source");
    const path = `/${masterKey(videoId, "upload-1")}`;
    const expired = await storage(path, await grantFor(videoId, { exp: Math.floor(Date.now() / 1000) - 1 }));
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { detail: string }).detail).toMatch(/expired/);
    const forged = await storage(path, await grantFor(videoId, { secret: "not-the-server-secret-0123456789abcdef" }));
    expect(forged.status).toBe(403);
    // A valid signature over another payload does not transfer.
    const [, signature] = (await grantFor(videoId)).split(".");
    const otherPayload = (await grantFor(newVideoId())).split(".")[0];
    expect((await storage(path, `${otherPayload}.${signature}`)).status).toBe(403);
    expect((await storage(path, undefined)).status).toBe(401);
  });

  it("requires Content-Length on PUT (411) and is not in the OpenAPI document", async () => {
    const videoId = newVideoId();
    const token = await grantFor(videoId);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("x"));
        controller.close();
      },
    });
    expect((await storage(`/${hlsPrefix(videoId)}a.m4s`, token, { method: "PUT", body })).status).toBe(411);
    const openapi = (await (await call("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).some((path) => path.startsWith("/internal"))).toBe(false);
  });
});
