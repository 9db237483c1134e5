import { describe, expect, it } from "vitest";
import { type ContinueWatchingRow, continueWatchingCopyDue } from "./continue-watching.ts";

describe("continueWatchingCopyDue (when a heartbeat rewrites the viewer's KV copy)", () => {
  const now = Date.now();
  const version = (msAgo: number) => `${(now - msAgo).toString(36)}.abcdef12`;
  const row = (ids: string[], stamp: string, builtMsAgo = 120_000): ContinueWatchingRow => ({
    ids,
    items: [],
    version: stamp,
    builtAt: now - builtMsAgo,
  });

  it("rewrites when the titles or their order changed, or when there is no copy", () => {
    expect(continueWatchingCopyDue(undefined, ["a"], version(0), now)).toBe(true);
    expect(continueWatchingCopyDue(row(["a", "b"], version(5000)), ["b", "a"], version(5000), now)).toBe(true);
    expect(continueWatchingCopyDue(row(["a", "b"], version(5000)), ["a"], version(5000), now)).toBe(true);
    expect(continueWatchingCopyDue(row(["a"], version(5000)), ["a"], version(5000), now)).toBe(false);
  });

  it("restamps summaries older than the catalog only once the change has reached every location (2 minutes)", () => {
    expect(continueWatchingCopyDue(row(["a"], version(600_000)), ["a"], version(60_000), now)).toBe(false);
    expect(continueWatchingCopyDue(row(["a"], version(600_000)), ["a"], version(180_000), now)).toBe(true);
    expect(continueWatchingCopyDue(row(["a"], "unsettled"), ["a"], version(180_000), now)).toBe(true);
  });

  it("retries a copy built from stale summaries (Postgres down) at most once a minute, not on every heartbeat", () => {
    expect(continueWatchingCopyDue(row(["a"], "unsettled", 5_000), ["a"], version(180_000), now)).toBe(false);
    expect(continueWatchingCopyDue(row(["a"], "unsettled", 61_000), ["a"], version(180_000), now)).toBe(true);
    // Other titles: at once.
    expect(continueWatchingCopyDue(row(["a"], "unsettled", 5_000), ["b", "a"], version(180_000), now)).toBe(true);
  });
});
