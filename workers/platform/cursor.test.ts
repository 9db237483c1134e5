import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "./config.ts";
import { cursorCodec } from "./cursor.ts";

const position = z.object({ t: z.string(), i: z.string() });

describe("cursorCodec", () => {
  it("round-trips a position, and refuses one signed for another scope or altered", async () => {
    const config = await loadConfig(env);
    const videos = cursorCodec(config, "videos", position);
    const cursor = await videos.encode({ t: "2026-01-01T00:00:00.000Z", i: "abc" });
    expect(await videos.decode(cursor)).toEqual({ t: "2026-01-01T00:00:00.000Z", i: "abc" });
    await expect(cursorCodec(config, "search", position).decode(cursor)).rejects.toMatchObject({ code: "bad-request" });
    await expect(videos.decode(`${cursor}x`)).rejects.toMatchObject({ code: "bad-request" });
  });

  it("keeps cursors valid across a key rotation: the old key still verifies after a new one signs", async () => {
    const config = await loadConfig(env);
    const [current] = config.cursorKeys;
    if (!current) throw new Error("no cursor key");
    const before = await cursorCodec({ cursorKeys: [current] }, "videos", position).encode({ t: "x", i: "y" });
    const rotatedKey = (await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])) as CryptoKey;
    const rotated = cursorCodec({ cursorKeys: [rotatedKey, current] }, "videos", position);
    expect(await rotated.decode(before)).toEqual({ t: "x", i: "y" });
    await expect(cursorCodec({ cursorKeys: [rotatedKey] }, "videos", position).decode(before)).rejects.toMatchObject({
      code: "bad-request",
    });
  });
});
