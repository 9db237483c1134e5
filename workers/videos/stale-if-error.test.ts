import { describe, expect, it } from "vitest";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { STALE_HEADER } from "../platform/cache.ts";
import { DATABASE_RETRY_AFTER_SECONDS, outageWords } from "../platform/outage.ts";
import { insertReadyVideos, problemOf, signUpAdmin, uniqueGenre } from "../test/catalog.ts";
import { advanceClock, type CallInit, call, type SignedIn, signUp } from "../test/helpers.ts";

/** Postgres stopped: nothing listens where the Worker looks for it. */
const databaseDown = { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL };

function callWhileDown(path: string, init: CallInit = {}) {
  return call(path, { ...init, env: databaseDown });
}

/** A fresh access token for `viewer` (tokens live 5 minutes; these tests move the clock further), while Postgres is up. */
async function refreshed(viewer: SignedIn): Promise<string> {
  const response = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } });
  expect(response.status).toBe(200);
  const pair = (await response.json()) as SignedIn;
  viewer.refreshToken = pair.refreshToken;
  return pair.accessToken;
}

/** A made-up word no other test uses: letters only, so it is one search term. */
function nonsenseWord(length = 10): string {
  const letters = "bcdfghjklmnpqrstvwxz";
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => letters[byte % letters.length]).join("");
}

describe("stale-if-error: the catalog serves its last copy while Postgres is down", () => {
  it("serves a title page from KV; past its freshness, its last copy, saying how old it is", async () => {
    const viewer = await signUp();
    let { accessToken } = viewer;
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()] });
    const path = `/v1/videos/${video?.id}`;
    expect((await call(path, { token: accessToken })).status).toBe(200);
    const fresh = await callWhileDown(path, { token: accessToken });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get(STALE_HEADER)).toBeNull();
    // Ten minutes on, the copy is past its freshness: Postgres is asked, cannot answer, and the copy is served.
    advanceClock(601_000);
    accessToken = await refreshed(viewer);
    const stale = await callWhileDown(path, { token: accessToken });
    expect(stale.status).toBe(200);
    expect(Number(stale.headers.get(STALE_HEADER))).toBeGreaterThanOrEqual(601);
    expect(((await stale.json()) as { video: { id: string } }).video.id).toBe(video?.id);
    // Postgres is back: rebuilt, fresh again.
    const rebuilt = await call(path, { token: accessToken });
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.headers.get(STALE_HEADER)).toBeNull();
  });

  it("serves the catalog's pages and the home page kept for an older catalog version, and 503 for a page never kept", async () => {
    const { accessToken } = await signUp();
    const admin = await signUpAdmin();
    const genre = uniqueGenre();
    const [first] = await insertReadyVideos(2, { genres: [genre] });
    const list = `/v1/videos?genre=${genre}&limit=5`;
    expect((await call(list, { token: accessToken })).status).toBe(200);
    expect((await call("/v1/home", { token: accessToken })).status).toBe(200);
    // An admin edit moves the catalog to a new version: the kept pages are no longer current.
    const edit = await call(`/v1/admin/videos/${first?.id}`, { method: "PATCH", token: admin.accessToken, json: { title: "Renamed" } });
    expect(edit.status).toBe(200);
    for (const path of [list, "/v1/home"]) {
      const response = await callWhileDown(path, { token: accessToken });
      expect(response.status, path).toBe(200);
      expect(response.headers.get(STALE_HEADER), path).not.toBeNull();
    }
    const listed = (await (await callWhileDown(list, { token: accessToken })).json()) as { items: { id: string }[] };
    expect(listed.items).toHaveLength(2);
    const never = await callWhileDown(`/v1/videos?genre=${uniqueGenre()}`, { token: accessToken });
    expect(never.status).toBe(503);
    expect(never.headers.get("Retry-After")).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
    expect((await problemOf(never)).detail).toBe(outageWords.fallback);
  });

  it("keeps a popular search's first page; a search that cannot be answered is a 503 in words with Retry-After", async () => {
    const viewer = await signUp();
    let { accessToken } = viewer;
    const word = nonsenseWord();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `The ${word} affair` });
    const path = `/v1/search?q=${word}`;
    // Asked once: answered, not kept. Down now, it cannot be answered.
    expect((await call(path, { token: accessToken })).status).toBe(200);
    const unanswered = await callWhileDown(path, { token: accessToken });
    expect(unanswered.status).toBe(503);
    expect(unanswered.headers.get("Retry-After")).toBe(String(DATABASE_RETRY_AFTER_SECONDS));
    expect((await problemOf(unanswered)).detail).toBe(outageWords.search);
    // Asked again: popular, kept. Served from KV while fresh, then as a stale copy.
    expect((await call(path, { token: accessToken })).status).toBe(200);
    const kept = await callWhileDown(path, { token: accessToken });
    expect(kept.status).toBe(200);
    expect(kept.headers.get(STALE_HEADER)).toBeNull();
    advanceClock(301_000);
    accessToken = await refreshed(viewer);
    const stale = await callWhileDown(path, { token: accessToken });
    expect(stale.status).toBe(200);
    expect(stale.headers.get(STALE_HEADER)).not.toBeNull();
    expect(((await stale.json()) as { items: { id: string }[] }).items.map((item) => item.id)).toEqual([video?.id]);
    // A later page needs Postgres.
    expect((await callWhileDown(`${path}&cursor=x`, { token: accessToken })).status).not.toBe(200);
  });

  it("keeps continue watching on the home page, and heartbeats recording, with the title documents' last copies", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], durationSeconds: 600 });
    const heartbeat = (positionSeconds: number, init: CallInit = {}) =>
      call(`/v1/videos/${video?.id}/progress`, { ...init, method: "PUT", token: viewer.accessToken, json: { positionSeconds } });
    expect((await heartbeat(30)).status).toBe(204);
    advanceClock(601_000);
    viewer.accessToken = await refreshed(viewer);
    expect((await heartbeat(40, { env: databaseDown })).status).toBe(204);
    const home = await callWhileDown("/v1/home", { token: viewer.accessToken });
    expect(home.status).toBe(200);
    const { rows } = (await home.json()) as { rows: { id: string; items: { id: string }[] }[] };
    expect(rows[0]).toMatchObject({ id: "continue-watching", items: [{ id: video?.id }] });
    const progress = await callWhileDown(`/v1/videos/${video?.id}/progress`, { token: viewer.accessToken });
    expect(((await progress.json()) as { positionSeconds: number }).positionSeconds).toBe(40);
  });
});
