import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { videos } from "../../schema/index.ts";
import { countingEnv, noCalls, UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { loadConfig } from "../platform/config.ts";
import { cursorCodec } from "../platform/cursor.ts";
import {
  brokenKv,
  callWithEnv,
  insertReadyVideos,
  problemOf,
  setTitleInDatabaseOnly,
  signUpAdmin,
  uniqueGenre,
  withDatabase,
} from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";

interface Page {
  items: { id: string; title: string; genres: string[] }[];
  nextCursor: string | null;
}

async function page(token: string, query: string, init: RequestInit = {}): Promise<Page> {
  const response = await call(`/v1/videos?${query}`, { ...init, token });
  expect(response.status).toBe(200);
  return (await response.json()) as Page;
}

describe("GET /v1/videos", () => {
  it("lists only ready videos, newest first, as VideoSummary", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const genre = uniqueGenre("list");
    const ready = await insertReadyVideos(3, { genres: [genre, "drama"] });
    const created = await call("/v1/admin/videos", {
      method: "POST",
      token: admin.accessToken,
      json: { title: "Not uploaded yet", summary: "Waiting.", genres: [genre], releaseYear: 2024 },
    });
    expect(created.status).toBe(201);

    const response = await call(`/v1/videos?genre=${genre}`, { token: viewer.accessToken });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Page & { items: Record<string, unknown>[] };
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((item) => item.id)).toEqual(ready.map((video) => video.id));
    expect(Object.keys(body.items[0] ?? {}).sort()).toEqual(
      ["durationSeconds", "genres", "id", "maturityRating", "posterUrl", "posters", "releaseYear", "summary", "title"].sort(),
    );
    expect(body.items[0]?.posterUrl).toMatch(new RegExp(`/media/${ready[0]?.id}/v2\\.[^/]+/poster\\.jpg$`));
  });

  it("pages through hundreds of videos without a repeat or a skip while the catalog changes", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const genre = uniqueGenre("paging");
    // Groups of three share a publishedAt, so the id tie-break is exercised too.
    const base = Date.now() - 86_400_000;
    const original = await insertReadyVideos(240, { genres: [genre], publishedAt: (i) => new Date(base - Math.floor(i / 3) * 1000) });
    const expectedOrder = [...original]
      .sort((a, b) => (b.publishedAt?.getTime() ?? 0) - (a.publishedAt?.getTime() ?? 0) || (a.id < b.id ? 1 : -1))
      .map((video) => video.id);

    const seen: string[] = [];
    const deleted = new Set<string>();
    const addedLater: string[] = [];
    let cursor: string | null = null;
    for (let round = 0; round < 100; round++) {
      const current: Page = await page(viewer.accessToken, `genre=${genre}&limit=17${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...current.items.map((item) => item.id));
      cursor = current.nextCursor;
      if (!cursor) break;
      // The catalog changes between pages: a new release (ahead of the cursor), a video published
      // among the ones not seen yet, a deletion and an edit of videos not seen yet.
      const unseen = expectedOrder.filter((id) => !seen.includes(id) && !deleted.has(id));
      const [toDelete, toEdit] = [unseen[unseen.length - 1], unseen[0]];
      if (round % 3 === 0 && toDelete) {
        expect((await call(`/v1/admin/videos/${toDelete}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
        deleted.add(toDelete);
      }
      if (round % 3 === 1 && toEdit) {
        const edited = await call(`/v1/admin/videos/${toEdit}`, {
          method: "PATCH",
          token: admin.accessToken,
          json: { title: `Edited ${round}` },
        });
        expect(edited.status).toBe(200);
      }
      await insertReadyVideos(1, { genres: [genre], publishedAt: () => new Date() });
      const olderThanUnseen = original.find((video) => video.id === unseen[Math.floor(unseen.length / 2)])?.publishedAt;
      if (olderThanUnseen) {
        const [late] = await insertReadyVideos(1, { genres: [genre], publishedAt: () => new Date(olderThanUnseen.getTime() - 1) });
        if (late) addedLater.push(late.id);
      }
    }
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    const expectedSeen = expectedOrder.filter((id) => !deleted.has(id));
    expect(seen.filter((id) => expectedSeen.includes(id))).toEqual(expectedSeen);
    // Videos published behind the cursor are reached; new releases ahead of it are not repeated.
    for (const id of addedLater) expect(seen).toContain(id);
    expect(deleted.size).toBeGreaterThan(0);
  });

  it("filters by genre however it is typed", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("Filter");
    const [match] = await insertReadyVideos(1, { genres: [genre.toLowerCase()] });
    await insertReadyVideos(2, { genres: [uniqueGenre("other")] });
    const body = await page(viewer.accessToken, `genre=${encodeURIComponent(`  ${genre.toUpperCase()} `)}`);
    expect(body.items.map((item) => item.id)).toEqual([match?.id]);
  });

  it("caches pages of the longest non-Latin genres too (their KV keys stay under 512 bytes)", async () => {
    const viewer = await signUp();
    // 40 letters outside the BMP (4 bytes each in UTF-8), unique to this test.
    const genre = `${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}${"𠀀".repeat(32)}`;
    const [video] = await insertReadyVideos(3, { genres: [genre], title: () => "Cached" });
    const first = await page(viewer.accessToken, `genre=${encodeURIComponent(genre)}&limit=2`);
    const cursor = first.nextCursor ?? "";
    await page(viewer.accessToken, `genre=${encodeURIComponent(genre)}&limit=2&cursor=${cursor}`);
    await setTitleInDatabaseOnly(video?.id ?? "", "Not from the cache");
    expect((await page(viewer.accessToken, `genre=${encodeURIComponent(genre)}&limit=2`)).items[0]?.title).toBe("Cached");
  });

  it("answers 400 for a limit outside 1 to 50, and accepts both ends", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("limit");
    await insertReadyVideos(3, { genres: [genre] });
    for (const limit of ["0", "51", "-1", "abc", "1.5", "", "1e1", "9999"]) {
      const response = await call(`/v1/videos?genre=${genre}&limit=${limit}`, { token: viewer.accessToken });
      expect(response.status, `limit=${limit}`).toBe(400);
      const problem = await problemOf(response);
      expect(problem.errors?.[0]?.path).toBe("limit");
      expect(problem.errors?.[0]?.message).toMatch(/1 to 50/);
    }
    expect((await page(viewer.accessToken, `genre=${genre}&limit=1`)).items).toHaveLength(1);
    expect((await page(viewer.accessToken, `genre=${genre}&limit=50`)).items).toHaveLength(3);
    expect((await page(viewer.accessToken, `genre=${genre}`)).items).toHaveLength(3);
  });

  it("answers 400, never 500, for tampered, foreign or malformed cursors", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("cursor");
    await insertReadyVideos(5, { genres: [genre] });
    const first = await page(viewer.accessToken, `genre=${genre}&limit=2`);
    const cursor = first.nextCursor ?? "";
    const [payload = "", mac = ""] = cursor.split(".");
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    const decoded = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/"))) as { t: string; i: string };
    const reencoded = btoa(JSON.stringify({ ...decoded, t: "2000-01-01T00:00:00.000Z" }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const config = await loadConfig(env);
    const foreign = await cursorCodec(config, "search", z.object({ t: z.string(), i: z.string() })).encode(decoded);
    const wrongShape = await cursorCodec(config, "videos", z.object({ x: z.number() })).encode({ x: 1 });
    const attempts = {
      "payload changed": `${flip(payload, 3)}.${mac}`,
      "position rewritten": `${reencoded}.${mac}`,
      "signature changed": `${payload}.${flip(mac, 5)}`,
      "signature missing": payload,
      "extra part": `${cursor}.x`,
      garbage: "not-a-cursor",
      "sql in it": "' OR 1=1 --",
      "search cursor": foreign,
      "wrong shape": wrongShape,
      "too long": "a".repeat(600),
    };
    for (const [label, tampered] of Object.entries(attempts)) {
      const response = await call(`/v1/videos?genre=${genre}&limit=2&cursor=${encodeURIComponent(tampered)}`, {
        token: viewer.accessToken,
      });
      expect(response.status, label).toBe(400);
      const problem = await problemOf(response);
      expect(problem.errors?.[0]?.path, label).toBe("cursor");
      expect(JSON.stringify(problem), label).not.toMatch(/select|postgres|drizzle|stack/i);
    }
    // The genuine cursor still works.
    expect((await page(viewer.accessToken, `genre=${genre}&limit=2&cursor=${cursor}`)).items).toHaveLength(2);
  });

  it("serves repeated reads from KV, and reads Postgres when the cache is bypassed outside production", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("kv");
    const [video] = await insertReadyVideos(1, { genres: [genre], title: () => "Original title" });
    expect((await page(viewer.accessToken, `genre=${genre}`)).items[0]?.title).toBe("Original title");
    await setTitleInDatabaseOnly(video?.id ?? "", "Changed behind the cache");
    expect((await page(viewer.accessToken, `genre=${genre}`)).items[0]?.title).toBe("Original title");
    const bypassed = await page(viewer.accessToken, `genre=${genre}`, { headers: { "X-Reelstream-Cache": "bypass" } });
    expect(bypassed.items[0]?.title).toBe("Changed behind the cache");
    // In production the header means nothing: a client cannot push reads onto Postgres.
    const production = await callWithEnv({ APP_ENV: "production" }, `/v1/videos?genre=${genre}`, {
      token: viewer.accessToken,
      headers: { "X-Reelstream-Cache": "bypass" },
    });
    expect(((await production.json()) as Page).items[0]?.title).toBe("Original title");
  });

  it("still answers from Postgres when KV is down", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("kv-down");
    const ready = await insertReadyVideos(4, { genres: [genre] });
    const first = await callWithEnv({ CACHE: brokenKv }, `/v1/videos?genre=${genre}&limit=3`, { token: viewer.accessToken });
    expect(first.status).toBe(200);
    const body = (await first.json()) as Page;
    expect(body.items.map((item) => item.id)).toEqual(ready.slice(0, 3).map((video) => video.id));
    const second = await callWithEnv({ CACHE: brokenKv }, `/v1/videos?genre=${genre}&limit=3&cursor=${body.nextCursor}`, {
      token: viewer.accessToken,
    });
    expect(((await second.json()) as Page).items.map((item) => item.id)).toEqual([ready[3]?.id]);
  });

  it("answers 503 with Retry-After, without internals, when Postgres is down and KV cannot answer", async () => {
    const viewer = await signUp();
    const response = await callWithEnv(
      { CACHE: brokenKv, DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:9/postgres" },
      // A page no test reads otherwise (this isolate holds no copy of it). Not a genre: with KV and
      // Postgres down, the catalog's genres come from this isolate's last copy, which may lack a new one.
      "/v1/videos?limit=37",
      { token: viewer.accessToken },
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBeTruthy();
    expect(JSON.stringify(await problemOf(response))).not.toMatch(/127\.0\.0\.1|select|postgres:/i);
  });

  it("refuses a genre no listed title has with 400 in words: no query, no KV write, whatever the genre", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("known");
    await insertReadyVideos(1, { genres: [genre] });
    // The first list read after a catalog change learns the catalog's genres (one query for them all).
    expect((await page(viewer.accessToken, `genre=${genre}`)).items).toHaveLength(1);
    // Then, with every KV call counted and Postgres an address nothing listens on (a query would be a 503):
    const calls = noCalls();
    const counted = countingEnv(env, calls, { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL });
    for (let i = 0; i < 5; i++) {
      const response = await callWithEnv(counted, `/v1/videos?genre=${uniqueGenre("random")}`, { token: viewer.accessToken });
      expect(response.status).toBe(400);
      const problem = await problemOf(response);
      expect(problem.detail).toMatch(/No title in the catalog has the genre 'random-/);
      expect(problem.detail).toContain(genre);
      expect(problem.errors?.[0]).toMatchObject({ path: "genre" });
    }
    expect(calls.kv.filter((kvCall) => kvCall.method !== "get")).toEqual([]);
    // A genre the catalog has is still served from the same isolate's KV, without a query.
    expect((await callWithEnv(counted, `/v1/videos?genre=${genre}`, { token: viewer.accessToken })).status).toBe(200);
  });

  it("answers 401 without a token and with a forged one", async () => {
    expect((await call("/v1/videos")).status).toBe(401);
    const forged = await call("/v1/videos", { headers: { Authorization: "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.x" } });
    expect(forged.status).toBe(401);
  });

  it("refuses a flood from one account with 429 and Retry-After", async () => {
    const viewer = await signUp();
    const genre = uniqueGenre("flood");
    await insertReadyVideos(1, { genres: [genre] });
    // Limit 120 a minute; the window is aligned to the clock, so 241 requests are sure to cross it.
    let refused: Response | undefined;
    for (let i = 0; i < 241 && !refused; i++) {
      const response = await call(`/v1/videos?genre=${genre}`, {
        token: viewer.accessToken,
        headers: { "CF-Connecting-IP": `203.0.113.${i % 250}` },
      });
      if (response.status === 429) refused = response;
      else expect(response.status).toBe(200);
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get("Retry-After")).toBe("60");
    expect((await problemOf(refused as Response)).detail).toMatch(/this account/);
    // Another account is not affected.
    const other = await signUp();
    expect((await call(`/v1/videos?genre=${genre}`, { token: other.accessToken })).status).toBe(200);
  });

  it("never lists a deleted video, even from a page cached before the delete", async () => {
    const viewer = await signUp();
    const admin = await signUpAdmin();
    const genre = uniqueGenre("gone");
    const [kept, removed] = await insertReadyVideos(2, { genres: [genre] });
    expect((await page(viewer.accessToken, `genre=${genre}`)).items).toHaveLength(2);
    expect((await call(`/v1/admin/videos/${removed?.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    expect((await page(viewer.accessToken, `genre=${genre}`)).items.map((item) => item.id)).toEqual([kept?.id]);
    const stored = await withDatabase((db) =>
      db
        .select()
        .from(videos)
        .where(inArray(videos.id, [kept?.id ?? "", removed?.id ?? ""])),
    );
    expect(stored.map((row) => row.id)).toEqual([kept?.id]);
    await withDatabase((db) => db.delete(videos).where(eq(videos.id, kept?.id ?? "")));
  });
});
