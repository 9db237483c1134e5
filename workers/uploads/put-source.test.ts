import { beforeAll, describe, expect, it } from "vitest";
import { signUpAdmin } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { adminStatus, createVideo, r2Sha256, sha256, storedMasterOf, testBytes } from "../test/uploads.ts";

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

describe("PUT /v1/admin/videos/{id}/source", () => {
  it("streams a small master to R2 and queues the video (202)", async () => {
    const videoId = await createVideo(admin);
    const data = testBytes(3 * 1024 * 1024 + 5, 5);
    const response = await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: admin, body: data });
    expect(response.status, await response.clone().text()).toBe(202);
    expect(await response.json()).toMatchObject({ videoId, state: "queued", bytes: data.byteLength });
    expect(await r2Sha256(await storedMasterOf(videoId))).toBe(await sha256(data));
    expect((await adminStatus(admin, videoId)).state).toBe("queued");
    // One upload per video: a queued video takes no second master.
    expect((await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: admin, body: data })).status).toBe(409);
  });

  it("needs Content-Length (411), refuses viewers (403) and unknown videos (404)", async () => {
    const videoId = await createVideo(admin);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    expect((await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: admin, body: stream })).status).toBe(411);
    const viewer = await signUp();
    expect(
      (await call(`/v1/admin/videos/${videoId}/source`, { method: "PUT", token: viewer.accessToken, body: new Uint8Array(10) })).status,
    ).toBe(403);
    expect(
      (await call("/v1/admin/videos/00000000000000000000/source", { method: "PUT", token: admin, body: new Uint8Array(10) })).status,
    ).toBe(404);
    expect((await adminStatus(admin, videoId)).state).toBe("awaiting-upload");
  });
});
