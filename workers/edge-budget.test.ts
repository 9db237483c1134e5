import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type BindingCalls, countingEnv, noCalls, UNREACHABLE_DATABASE_URL } from "../testing/binding-calls.ts";
import worker from "./index.ts";
import { type RowKind, recommendedRowEntry } from "./recommendations/index.ts";
import { insertReadyVideos, signUpAdmin, uniqueGenre } from "./test/catalog.ts";
import { advanceClock, call, type SignedIn, signUp } from "./test/helpers.ts";
import { anotherSession, pathOf, play, readyVideo, subscribedViewer } from "./test/playback.ts";
import { kidsSession } from "./test/profiles.ts";

/**
 * What a warm browse request costs in bindings (issue 13): the bindings are counted and forwarded
 * (nothing is stubbed), and Postgres is an address nothing listens on, so an answer proves that no
 * query was made.
 */

interface Counted {
  response: Response;
  calls: BindingCalls;
}

/**
 * An environment whose bindings count into `calls` (reset before each request) and whose database
 * cannot be reached. One object for all requests, as an isolate has: its configuration is parsed
 * and its tokens verified once, as in production.
 */
function countedWorker() {
  let calls = noCalls();
  const counted = countingEnv(env, new Proxy({} as BindingCalls, { get: (_, key: keyof BindingCalls) => calls[key] }), {
    DATABASE_URL: UNREACHABLE_DATABASE_URL,
    DATABASE_READ_URL: UNREACHABLE_DATABASE_URL,
  });
  return async (path: string, token: string, init: RequestInit = {}): Promise<Counted> => {
    calls = noCalls();
    const ctx = createExecutionContext();
    const headers = new Headers(init.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const response = await worker.fetch(new Request(`http://reelstream.test${path}`, { ...init, headers }), counted, ctx);
    await waitOnExecutionContext(ctx);
    return { response, calls };
  };
}

let viewer: SignedIn;
let videoIds: string[];
let genre: string;

beforeAll(async () => {
  viewer = await signUp();
  genre = uniqueGenre("edge");
  videoIds = (await insertReadyVideos(3, { genres: [genre] })).map((video) => video.id);
});

/** A row that recommends, in KV as the cron's publisher writes it, with the titles' summaries from the catalog. */
async function putRecommendedRow(key: string, ids: string[]) {
  const items = [];
  for (const id of ids) {
    const response = await call(`/v1/videos/${id}`, { token: viewer.accessToken });
    const { video } = (await response.json()) as { video: Record<string, unknown> };
    items.push(video);
  }
  const [kind = "", ...subject] = key.split(":");
  await env.CACHE.put(recommendedRowEntry(kind as RowKind, subject.join(":")).key, JSON.stringify({ items, builtAt: Date.now() }));
}

/** Fills KV the way any first reader does (with the real database), so the next request is warm. */
async function warmUp(...paths: string[]) {
  for (const path of paths) expect((await call(path, { token: viewer.accessToken })).status).toBe(200);
}

describe("a warm browse request", () => {
  it("GET /v1/videos: one KV call (catalog version, page, deny-list), no Durable Object, no query, one limiter", async () => {
    const path = `/v1/videos?limit=2&genre=${genre}`;
    await warmUp(path);
    const request = countedWorker();
    for (let i = 0; i < 2; i++) {
      const { response, calls } = await request(path, viewer.accessToken);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { items: unknown[] }).items).toHaveLength(2);
      expect(calls.kv).toHaveLength(1);
      expect(calls.kv[0]?.method).toBe("get");
      // The page itself, unless this isolate holds it for the current version (then not even that).
      expect(calls.kv[0]?.keys.length).toBeLessThanOrEqual(3);
      expect(calls.kv[0]?.keys).toContain("catalog-version");
      expect(calls.kv[0]?.keys.some((key) => key.startsWith("v1:revoked-session:"))).toBe(true);
      expect(calls.durableObjects).toEqual([]);
      expect(calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);
    }
  });

  it("GET /v1/videos/{id}: one KV call (document, More like this, deny-list), no Durable Object, no query, one limiter", async () => {
    const path = `/v1/videos/${videoIds[0]}`;
    await warmUp(path);
    await putRecommendedRow(`like:${videoIds[0]}`, [videoIds[1] ?? ""]);
    const { response, calls } = await countedWorker()(path, viewer.accessToken);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { video: { id: string }; moreLikeThis: { id: string }[] };
    expect(body.video.id).toBe(videoIds[0]);
    expect(body.moreLikeThis.map((item) => item.id)).toEqual([videoIds[1]]);
    expect(calls.kv).toHaveLength(1);
    expect(calls.kv[0]?.method).toBe("get");
    expect(calls.kv[0]?.keys).toHaveLength(3);
    expect(calls.kv[0]?.keys).toEqual(
      expect.arrayContaining([`v3:video:${videoIds[0]}`, `v1:rows:like:${videoIds[0]}`, expect.stringMatching(/^v1:revoked-session:/)]),
    );
    expect(calls.durableObjects).toEqual([]);
    expect(calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);
  });

  it("GET /v1/home: one KV call (version, shared rows, deny-list, the viewer's continue-watching and My List rows with their summaries, trending, the country's top 10), one more for Because you watched; no Durable Object, no query", async () => {
    await warmUp("/v1/home");
    const request = countedWorker();
    const fromIceland = { cf: { country: "IS" } };
    const fresh = await request("/v1/home", viewer.accessToken, fromIceland);
    expect(fresh.response.status).toBe(200);
    expect(fresh.calls.kv).toHaveLength(1);
    // The shared rows, unless this isolate holds them for the current version.
    expect(fresh.calls.kv[0]?.keys.length).toBeLessThanOrEqual(7);
    expect(fresh.calls.kv[0]?.keys).toEqual(
      expect.arrayContaining([
        "catalog-version",
        `v1:continue:${viewer.user.id}`,
        // The profile's My List (the account's first profile has the user's id).
        `v1:my-list:${viewer.user.id}:${viewer.user.id}`,
        expect.stringMatching(/^v1:revoked-session:/),
        "v1:rows:trending:",
        "v1:rows:top10:IS",
      ]),
    );
    expect(fresh.calls.durableObjects).toEqual([]);
    expect(fresh.calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);

    // A heartbeat puts a title in the viewer's row, with its summary: still one KV call. (The
    // catalog changed in beforeAll: summaries built within 2 minutes of a change are not stamped
    // with its version, continue-watching.ts, and home would read the titles' documents.)
    advanceClock(120_000);
    const watched = videoIds[1] ?? "";
    const heartbeat = await call(`/v1/videos/${watched}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 10 },
    });
    expect(heartbeat.status).toBe(204);
    // The rows that recommend, as the cron publishes them (workers/recommendations/rows.test.ts computes them from views).
    const [first, , third] = videoIds;
    await putRecommendedRow("trending:", [first ?? "", watched]);
    await putRecommendedRow("top10:IS", [third ?? ""]);
    await putRecommendedRow(`because:${watched}`, [first ?? "", third ?? ""]);
    const { response, calls } = await request("/v1/home", viewer.accessToken, fromIceland);
    expect(response.status).toBe(200);
    const { rows } = (await response.json()) as { rows: { id: string; title: string; items: { id: string }[] }[] };
    expect(rows.slice(0, 4).map(({ id, title, items }) => ({ id, title, items: items.map((item) => item.id) }))).toEqual([
      { id: "continue-watching", title: "Continue watching", items: [watched] },
      { id: "trending", title: "Trending now", items: [first, watched] },
      { id: "top10:IS", title: "Top 10 in Iceland", items: [third] },
      { id: `because:${watched}`, title: expect.stringMatching(/^Because you watched /), items: [first, third] },
    ]);
    // The viewer's latest title is known once the first call answers: its "because" row is one more read of one key.
    expect(calls.kv).toHaveLength(2);
    expect(calls.kv[0]?.keys).toEqual(fresh.calls.kv[0]?.keys);
    expect(calls.kv[1]).toEqual({ method: "get", keys: [`v1:rows:because:${watched}`] });
    expect(calls.durableObjects).toEqual([]);
    expect(calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);

    // A title put on My List (the change writes the profile's KV copy, with its summary): the home
    // page's "My List" row, still in the same first KV call (then the "because" row, as above), with
    // no Durable Object call and no query.
    const listed = videoIds[2] ?? "";
    expect((await call(`/v1/my-list/${listed}`, { method: "PUT", token: viewer.accessToken })).status).toBe(200);
    const withList = await request("/v1/home", viewer.accessToken, fromIceland);
    expect(withList.response.status).toBe(200);
    const home = (await withList.response.json()) as { rows: { id: string; title: string; items: { id: string }[] }[] };
    expect(home.rows[1]).toMatchObject({ id: "my-list", title: "My List", items: [{ id: listed }] });
    expect(withList.calls.kv).toHaveLength(2);
    expect(withList.calls.kv[0]?.keys).toEqual(fresh.calls.kv[0]?.keys);
    expect(withList.calls.kv[1]).toEqual({ method: "get", keys: [`v1:rows:because:${watched}`] });
    expect(withList.calls.durableObjects).toEqual([]);
    expect(withList.calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);
  });

  it("serves a page this isolate holds for the current catalog version from memory: KV is asked for the version only", async () => {
    const admin = await signUpAdmin();
    const edit = (id: string, title: string) =>
      call(`/v1/admin/videos/${id}`, { method: "PATCH", token: admin.accessToken, json: { title } });
    expect((await edit(videoIds[2] ?? "", "Edited once")).status).toBe(200);
    const path = `/v1/videos?limit=3&genre=${genre}`;
    await warmUp(path);
    const request = countedWorker();
    const held = await request(path, viewer.accessToken);
    expect(held.response.status).toBe(200);
    expect(held.calls.kv).toHaveLength(1);
    expect(held.calls.kv[0]?.keys).toEqual(["catalog-version", expect.stringMatching(/^v1:revoked-session:/)]);
    // A catalog change moves the version on: the page is read again (here, rebuilt), and shows the change.
    expect((await edit(videoIds[2] ?? "", "Edited twice")).status).toBe(200);
    await warmUp(path);
    const after = await request(path, viewer.accessToken);
    expect(after.response.status).toBe(200);
    const titles = ((await after.response.json()) as { items: { title: string }[] }).items.map((item) => item.title);
    expect(titles).toContain("Edited twice");
    expect(after.calls.kv).toHaveLength(1);
  });
});

describe("a warm browse request of a kids profile", () => {
  it("lists, pages and home rows per ceiling, a title above it 404: one KV call each, no Durable Object, no query", async () => {
    const parent = await signUp();
    const { kids } = await kidsSession(parent);
    const kidsGenre = uniqueGenre("edge-kids");
    const [forKids] = await insertReadyVideos(1, { genres: [kidsGenre], maturityRating: "all" });
    const [forAdults] = await insertReadyVideos(1, { genres: [kidsGenre], maturityRating: "16+" });
    const paths = [`/v1/videos?genre=${kidsGenre}`, "/v1/home", `/v1/videos/${forKids?.id}`];
    for (const path of paths) expect((await call(path, { token: kids.accessToken })).status).toBe(200);
    expect((await call(`/v1/videos/${forAdults?.id}`, { token: parent.accessToken })).status).toBe(200);
    const request = countedWorker();
    for (const path of paths) {
      const { response, calls } = await request(path, kids.accessToken);
      expect(response.status, path).toBe(200);
      expect(calls.kv, path).toHaveLength(1);
      expect(calls.durableObjects, path).toEqual([]);
      if (path.startsWith("/v1/videos?")) {
        expect(((await response.json()) as { items: { id: string }[] }).items.map((item) => item.id)).toEqual([forKids?.id]);
        // The page of ceiling 1 (7+): its own key, unless this isolate holds it.
        expect(calls.kv[0]?.keys.filter((key) => key.startsWith("v3:videos:")).every((key) => key.startsWith("v3:videos:1:"))).toBe(true);
      }
    }
    const above = await request(`/v1/videos/${forAdults?.id}`, kids.accessToken);
    expect(above.response.status).toBe(404);
    expect(above.calls.kv).toHaveLength(1);
    expect(above.calls.durableObjects).toEqual([]);
  });
});

describe("a warm series page", () => {
  it("GET /v1/series/{id}: one KV call (version, the page, deny-list), no Durable Object, no query, one limiter", async () => {
    const admin = await signUpAdmin();
    const created = await call("/v1/admin/series", {
      method: "POST",
      token: admin.accessToken,
      json: { title: "Edge Tales", summary: "Two." },
    });
    const seriesId = ((await created.json()) as { series: { id: string } }).series.id;
    const episodes = await insertReadyVideos(2, { genres: [uniqueGenre("edge-series")] });
    for (const [i, episode] of episodes.entries()) {
      advanceClock(1_000);
      const attached = await call(`/v1/admin/videos/${episode.id}/episode`, {
        method: "PUT",
        token: admin.accessToken,
        json: { seriesId, season: 1, episode: i + 1 },
      });
      expect(attached.status).toBe(200);
    }
    const path = `/v1/series/${seriesId}`;
    await warmUp(path);
    const request = countedWorker();
    for (let i = 0; i < 2; i++) {
      const { response, calls } = await request(path, viewer.accessToken);
      expect(response.status).toBe(200);
      const { series } = (await response.json()) as { series: { seasons: { episodes: { id: string }[] }[] } };
      expect(series.seasons[0]?.episodes.map((episode) => episode.id)).toEqual(episodes.map((episode) => episode.id));
      expect(calls.kv).toHaveLength(1);
      // The page itself, unless this isolate holds it for the current version (then not even that).
      expect(calls.kv[0]?.keys.length).toBeLessThanOrEqual(3);
      expect(calls.kv[0]?.keys).toContain("catalog-version");
      expect(calls.durableObjects).toEqual([]);
      expect(calls.rateLimiters).toEqual(["CATALOG_USER_LIMITER"]);
    }
  });
});

describe("a signed-out session on browse routes", () => {
  it("is refused by the KV deny-list read with the page, with no Durable Object call", async () => {
    const session = await signUp();
    const path = `/v1/videos?limit=2&genre=${genre}`;
    await warmUp(path);
    const request = countedWorker();
    expect((await request(path, session.accessToken)).response.status).toBe(200);
    expect((await call("/v1/auth/signout", { method: "POST", token: session.accessToken })).status).toBe(204);
    const { response, calls } = await request(path, session.accessToken);
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(calls.kv).toHaveLength(1);
    expect(calls.durableObjects).toEqual([]);
  });
});

describe("a signed-in viewer's path, with Postgres unreachable", () => {
  it("play: the video's document from KV, then one Durable Object call (session, plan, screens, lease), no query", async () => {
    const player = await subscribedViewer("standard");
    const video = await readyVideo();
    expect((await call(`/v1/videos/${video.id}`, { token: player.accessToken })).status).toBe(200);
    const { response, calls } = await countedWorker()(`/v1/videos/${video.id}/play`, player.accessToken);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { maxHeight: number }).maxHeight).toBe(1080);
    expect(calls.kv).toEqual([{ method: "get", keys: [`v3:video:${video.id}`] }]);
    expect(calls.durableObjects).toEqual(["VIEWER_STATE.startStream"]);
    expect(calls.rateLimiters).toEqual(["PLAY_LIMITER"]);
  });

  it("watch here instead and the release: one Durable Object call each (the take-over inside startStream), no query", async () => {
    const player = await subscribedViewer("basic");
    const video = await readyVideo();
    const tv = await play(player, video.id);
    const phone = await anotherSession(player);
    const request = countedWorker();
    const here = await request(`/v1/videos/${video.id}/play`, phone.accessToken, { method: "POST" });
    expect(here.response.status).toBe(200);
    expect(here.calls.durableObjects).toEqual(["VIEWER_STATE.startStream"]);
    const { streamToken } = (await here.response.json()) as { streamToken: string };
    expect((await request(pathOf(tv.manifestUrl), "")).response.status).toBe(403);

    const released = await request(`/v1/videos/${video.id}/play/release`, "", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ streamToken, bandwidthEstimate: 2_000_000 }),
    });
    expect(released.response.status).toBe(204);
    expect(released.calls.kv).toEqual([]);
    expect(released.calls.durableObjects).toEqual(["VIEWER_STATE.releaseStream"]);
  });

  it("refresh and the account: one Durable Object call each (and the session check), no query", async () => {
    const request = countedWorker();
    const refreshed = await request("/v1/auth/refresh", "", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: viewer.refreshToken }),
    });
    expect(refreshed.response.status).toBe(200);
    expect(refreshed.calls.durableObjects).toEqual(["VIEWER_STATE.refreshSession"]);
    viewer = { ...viewer, ...((await refreshed.response.json()) as SignedIn) };
    const me = await request("/v1/me", viewer.accessToken);
    expect(me.response.status).toBe(200);
    expect(me.calls.durableObjects).toEqual(["VIEWER_STATE.isSessionRevoked", "VIEWER_STATE.accountView"]);
  });
});
