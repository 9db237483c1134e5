import { describe, expect, it } from "vitest";
import { UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import { KV_SAME_KEY_WRITE_INTERVAL_MS } from "../platform/kv-limits.ts";
import { insertReadyVideos, problemOf, setTitleInDatabaseOnly, signUpAdmin, uniqueGenre } from "../test/catalog.ts";
import { advanceClock, type CallInit, call, type SignedIn, signUp } from "../test/helpers.ts";
import { kidsSession } from "../test/profiles.ts";

interface SeriesBody {
  series: {
    id: string;
    title: string;
    posterUrl: string | null;
    seasons: { number: number; title: string | null; episodes: { id: string; title: string; season: number; number: number }[] }[];
  };
}
interface EpisodeOf {
  seriesId: string;
  seriesTitle: string;
  season: number;
  number: number;
  next: { id: string; title: string; season: number; number: number } | null;
}

async function createSeries(admin: SignedIn, title = "Lighthouse Stories"): Promise<string> {
  const response = await call("/v1/admin/series", {
    method: "POST",
    token: admin.accessToken,
    json: { title, summary: "Keepers of the coast, one night each.", genres: ["Drama"] },
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { series: { id: string; genres: string[] } };
  expect(body.series.genres).toEqual(["drama"]);
  expect(response.headers.get("Location")).toBe(`/v1/admin/series/${body.series.id}`);
  return body.series.id;
}

/**
 * An admin write: each writes a new catalog version, and KV takes one write of a key a second, so
 * the test clock moves a second first (else the write would wait a real second to go through).
 */
function adminWrite(path: string, init: CallInit) {
  advanceClock(KV_SAME_KEY_WRITE_INTERVAL_MS);
  return call(path, init);
}

function attach(admin: SignedIn, videoId: string, json: Record<string, unknown>) {
  return adminWrite(`/v1/admin/videos/${videoId}/episode`, { method: "PUT", token: admin.accessToken, json });
}

async function seriesOf(id: string, token: string): Promise<SeriesBody["series"]> {
  const response = await call(`/v1/series/${id}`, { token });
  expect(response.status).toBe(200);
  return ((await response.json()) as SeriesBody).series;
}

async function episodeOf(videoId: string, token: string): Promise<EpisodeOf | null> {
  const response = await call(`/v1/videos/${videoId}`, { token });
  expect(response.status).toBe(200);
  return ((await response.json()) as { video: { episode: EpisodeOf | null } }).video.episode;
}

/** A series of three ready episodes: S1E1, S1E2, S2E1 (videos titled "Episode a/b/c"). */
async function seriesOfThree(admin: SignedIn) {
  const seriesId = await createSeries(admin);
  const [a, b, c] = await insertReadyVideos(3, { genres: [uniqueGenre("series")], title: (i) => `Episode ${"abc"[i]}` });
  if (!a || !b || !c) throw new Error("videos not inserted");
  // Attached out of order: the page and `next` follow the numbers, not the order of attaching.
  expect((await attach(admin, c.id, { seriesId, season: 2, episode: 1, seasonTitle: "The Storm" })).status).toBe(200);
  expect((await attach(admin, b.id, { seriesId, season: 1, episode: 2 })).status).toBe(200);
  expect((await attach(admin, a.id, { seriesId, season: 1, episode: 1 })).status).toBe(200);
  return { seriesId, a, b, c };
}

describe("series, seasons and episodes", () => {
  it("GET /v1/series/{id}: seasons in order with their listed episodes; each episode's document names its series and the next one", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const { seriesId, a, b, c } = await seriesOfThree(admin);
    const page = await seriesOf(seriesId, viewer.accessToken);
    expect(page.title).toBe("Lighthouse Stories");
    expect(page.posterUrl).toMatch(new RegExp(`/media/${a.id}/`));
    expect(
      page.seasons.map((season) => [season.number, season.title, season.episodes.map((episode) => [episode.id, episode.number])]),
    ).toEqual([
      [
        1,
        null,
        [
          [a.id, 1],
          [b.id, 2],
        ],
      ],
      [2, "The Storm", [[c.id, 1]]],
    ]);
    expect(await episodeOf(a.id, viewer.accessToken)).toEqual({
      seriesId,
      seriesTitle: "Lighthouse Stories",
      season: 1,
      number: 1,
      next: expect.objectContaining({ id: b.id, title: "Episode b", season: 1, number: 2 }),
    });
    // Across a season's end, and none after the last.
    expect((await episodeOf(b.id, viewer.accessToken))?.next?.id).toBe(c.id);
    expect((await episodeOf(c.id, viewer.accessToken))?.next).toBeNull();
  });

  it("moving, detaching and deleting an episode rewrites its neighbour's `next` and the series page on the next read", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const { seriesId, a, b, c } = await seriesOfThree(admin);
    // Read once, so the documents and the page sit in KV.
    expect((await episodeOf(a.id, viewer.accessToken))?.next?.id).toBe(b.id);
    await seriesOf(seriesId, viewer.accessToken);

    // b moves after c: a's next is now c, c's is b.
    expect((await attach(admin, b.id, { seriesId, season: 2, episode: 2 })).status).toBe(200);
    expect((await episodeOf(a.id, viewer.accessToken))?.next?.id).toBe(c.id);
    expect((await episodeOf(c.id, viewer.accessToken))?.next?.id).toBe(b.id);
    expect((await seriesOf(seriesId, viewer.accessToken)).seasons.map((season) => season.episodes.map((episode) => episode.id))).toEqual([
      [a.id],
      [c.id, b.id],
    ]);

    // c becomes a film: a's next is b; c's document has no episode.
    const detached = await adminWrite(`/v1/admin/videos/${c.id}/episode`, { method: "DELETE", token: admin.accessToken });
    expect(detached.status).toBe(200);
    expect(((await detached.json()) as { video: { episode: unknown } }).video.episode).toBeNull();
    expect((await episodeOf(a.id, viewer.accessToken))?.next?.id).toBe(b.id);
    expect(await episodeOf(c.id, viewer.accessToken)).toBeNull();

    // b is deleted: a is the last episode.
    expect((await adminWrite(`/v1/admin/videos/${b.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    expect((await episodeOf(a.id, viewer.accessToken))?.next).toBeNull();
    expect((await seriesOf(seriesId, viewer.accessToken)).seasons.map((season) => season.number)).toEqual([1]);
  });

  it("a series edit reaches its page and its episodes' documents", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const { seriesId, a } = await seriesOfThree(admin);
    await seriesOf(seriesId, viewer.accessToken);
    expect((await episodeOf(a.id, viewer.accessToken))?.seriesTitle).toBe("Lighthouse Stories");
    const edited = await adminWrite(`/v1/admin/series/${seriesId}`, {
      method: "PATCH",
      token: admin.accessToken,
      json: { title: "Harbour Lights" },
    });
    expect(edited.status).toBe(200);
    expect((await seriesOf(seriesId, viewer.accessToken)).title).toBe("Harbour Lights");
    expect((await episodeOf(a.id, viewer.accessToken))?.seriesTitle).toBe("Harbour Lights");
    const adminView = (await (await call(`/v1/admin/series/${seriesId}`, { token: admin.accessToken })).json()) as {
      series: { seasons: { episodes: { id: string; state: string }[] }[] };
    };
    expect(adminView.series.seasons[0]?.episodes[0]).toMatchObject({ id: a.id, state: "ready" });
  });

  it("is served from KV once read, and its last copy while Postgres is down", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const { seriesId, a } = await seriesOfThree(admin);
    await seriesOf(seriesId, viewer.accessToken);
    await setTitleInDatabaseOnly(a.id, "Changed behind the cache");
    const down = await call(`/v1/series/${seriesId}`, {
      token: viewer.accessToken,
      env: { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL },
    });
    expect(down.status).toBe(200);
    expect(((await down.json()) as SeriesBody).series.seasons[0]?.episodes[0]?.title).toBe("Episode a");
  });

  it("answers 404 alike for an unknown series and one with no listed episode; 401 without a token", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const empty = await createSeries(admin, "Announced");
    for (const id of [empty, "zzzzzzzzzzzzzzzzzzzz", "not an id"]) {
      const response = await call(`/v1/series/${encodeURIComponent(id)}`, { token: viewer.accessToken });
      expect(response.status, id).toBe(404);
      expect((await problemOf(response)).detail).toMatch(/no series/);
    }
    expect((await call(`/v1/series/${empty}`)).status).toBe(401);
  });

  it("shows a kids profile only the episodes at or below its ceiling, and a series with none as unknown", async () => {
    const admin = await signUpAdmin();
    const parent = await signUp();
    const { kids } = await kidsSession(parent);
    const genre = uniqueGenre("series-kids");
    const [forKids] = await insertReadyVideos(1, { genres: [genre], maturityRating: "all" });
    const [forAdults] = await insertReadyVideos(1, { genres: [genre], maturityRating: "16+" });
    const mixed = await createSeries(admin, "Mixed Tales");
    expect((await attach(admin, forKids?.id as string, { seriesId: mixed, season: 1, episode: 1 })).status).toBe(200);
    expect((await attach(admin, forAdults?.id as string, { seriesId: mixed, season: 2, episode: 1 })).status).toBe(200);
    expect((await seriesOf(mixed, parent.accessToken)).seasons.map((season) => season.number)).toEqual([1, 2]);
    const seen = await seriesOf(mixed, kids.accessToken);
    expect(seen.seasons.flatMap((season) => season.episodes.map((episode) => episode.id))).toEqual([forKids?.id]);
    const [onlyAdults] = await insertReadyVideos(1, { genres: [genre], maturityRating: "18+" });
    const grownUp = await createSeries(admin, "Night Shift");
    expect((await attach(admin, onlyAdults?.id as string, { seriesId: grownUp, season: 1, episode: 1 })).status).toBe(200);
    expect((await call(`/v1/series/${grownUp}`, { token: parent.accessToken })).status).toBe(200);
    const hidden = await call(`/v1/series/${grownUp}`, { token: kids.accessToken });
    expect(hidden.status).toBe(404);
    expect((await problemOf(hidden)).detail).toMatch(/no series/);
  });

  it("refuses in words: an unknown series, numbers out of range, unknown fields, a taken slot (409 naming its video)", async () => {
    const admin = await signUpAdmin();
    const { seriesId, a, b } = await seriesOfThree(admin);
    const unknown = await attach(admin, b.id, { seriesId: "zzzzzzzzzzzzzzzzzzzz", season: 1, episode: 3 });
    expect(unknown.status).toBe(400);
    expect((await problemOf(unknown)).errors).toEqual([{ path: "seriesId", message: "No series has this id." }]);
    const bad = await attach(admin, b.id, { seriesId, season: 0, episode: 1.5, state: "ready" });
    expect(bad.status).toBe(400);
    const paths = (await problemOf(bad)).errors?.map((error) => error.path);
    expect(paths).toEqual(expect.arrayContaining(["season", "episode"]));
    const taken = await attach(admin, b.id, { seriesId, season: 1, episode: 1 });
    expect(taken.status).toBe(409);
    expect((await problemOf(taken)).detail).toBe(
      `Season 1, episode 1 of 'Lighthouse Stories' is already 'Episode a' (${a.id}). Move or detach that episode first, or choose another number.`,
    );
    const noTitle = await call("/v1/admin/series", { method: "POST", token: admin.accessToken, json: { title: " ", summary: "x" } });
    expect(noTitle.status).toBe(400);
    expect((await problemOf(noTitle)).errors?.[0]).toEqual({ path: "title", message: "A title cannot be empty." });
  });

  it("admin routes refuse viewers (403) and anonymous callers (401)", async () => {
    const viewer = await signUp();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre("series-auth")] });
    const json = { title: "T", summary: "S" };
    expect((await call("/v1/admin/series", { method: "POST", token: viewer.accessToken, json })).status).toBe(403);
    expect((await call("/v1/admin/series", { method: "POST", json })).status).toBe(401);
    const episode = { seriesId: "zzzzzzzzzzzzzzzzzzzz", season: 1, episode: 1 };
    expect((await call(`/v1/admin/videos/${video?.id}/episode`, { method: "PUT", token: viewer.accessToken, json: episode })).status).toBe(
      403,
    );
  });
});
