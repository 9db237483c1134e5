import { describe, expect, it } from "vitest";
import type { StreamStatus } from "../../durable-objects/viewer-state.ts";
import type { MediaGrant } from "../platform/media-token.ts";
import { SEGMENT_STREAM_CHECK_SECONDS, StreamChecks } from "./stream-check.ts";

const grant: MediaGrant = { videoId: "v", userId: "u", sessionId: "s", leaseId: "l1", maxHeight: 1080, expiresAt: 0 };

function harness() {
  let now = 1_000_000;
  let answer: StreamStatus = { status: "live", expiresAt: now + 45_000 };
  let asks = 0;
  const checks = new StreamChecks();
  return {
    checks,
    advance: (ms: number) => {
      now += ms;
    },
    answer: (status: StreamStatus) => {
      answer = status;
    },
    now: () => now,
    asks: () => asks,
    status: (reuse: boolean, which = grant) =>
      checks.status(which, { reuse, now }, async () => {
        asks++;
        return answer;
      }),
  };
}

describe("StreamChecks: the bound on how long segments outlive their screen", () => {
  it("reuses a live answer for segments for at most 20 s, then asks again and sees the change", async () => {
    const h = harness();
    expect((await h.status(true)).status).toBe("live");
    h.answer({ status: "replaced" });
    h.advance(SEGMENT_STREAM_CHECK_SECONDS * 1000 - 1);
    expect((await h.status(true)).status).toBe("live");
    expect(h.asks()).toBe(1);
    h.advance(1);
    expect((await h.status(true)).status).toBe("replaced");
    expect(h.asks()).toBe(2);
  });

  it("never reuses a live answer past the lease's own expiry (a lapse stops segments on time)", async () => {
    const h = harness();
    h.answer({ status: "live", expiresAt: h.now() + 5_000 });
    await h.status(true);
    h.answer({ status: "ended" });
    h.advance(5_000);
    expect((await h.status(true)).status).toBe("ended");
  });

  it("always asks for playlists, and remembers refusals for 20 s so a refused player costs one call per 20 s", async () => {
    const h = harness();
    await h.status(false);
    await h.status(false);
    expect(h.asks()).toBe(2);
    h.answer({ status: "ended" });
    await h.status(false);
    for (let i = 0; i < 50; i++) expect((await h.status(true)).status).toBe("ended");
    expect(h.asks()).toBe(3);
  });

  it("keeps one play's answer from standing for another (keyed by the lease id)", async () => {
    const h = harness();
    h.answer({ status: "replaced" });
    await h.status(true);
    h.answer({ status: "live", expiresAt: h.now() + 45_000 });
    expect((await h.status(true, { ...grant, leaseId: "l2" })).status).toBe("live");
  });
});
