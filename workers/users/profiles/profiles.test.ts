import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { PIN_TRIES, PIN_WINDOW_MS } from "../../../durable-objects/viewer-state/profiles.ts";
import type { ViewerState } from "../../../durable-objects/viewer-state.ts";
import { videos } from "../../../schema/index.ts";
import { insertReadyVideos, problemOf, uniqueGenre, withDatabase } from "../../test/catalog.ts";
import { advanceClock, call, type SignedIn, signUp } from "../../test/helpers.ts";
import { anotherSession, readyVideo, subscribedViewer } from "../../test/playback.ts";
import { claimsOf, createProfile, kidsSession, type ProfileAnswer, selectProfile } from "../../test/profiles.ts";

async function listProfiles(viewer: SignedIn): Promise<{ profiles: ProfileAnswer[]; current: string }> {
  const response = await call("/v1/profiles", { token: viewer.accessToken });
  expect(response.status).toBe(200);
  return response.json();
}

async function refresh(viewer: SignedIn): Promise<SignedIn> {
  const response = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

describe("profiles", () => {
  it("starts every account with its main profile, whose id is the user id, and adds up to 5", async () => {
    const viewer = await signUp({ name: "Ada" });
    const first = await listProfiles(viewer);
    expect(first).toEqual({
      current: viewer.user.id,
      profiles: [
        {
          id: viewer.user.id,
          name: "Ada",
          kids: false,
          maturityCeiling: "18+",
          hasPin: false,
          audioLanguage: null,
          captionLanguage: null,
          isDefault: true,
        },
      ],
    });
    expect(claimsOf(viewer.accessToken)).toMatchObject({ pid: viewer.user.id, mc: 4 });

    const kids = await createProfile(viewer, { name: "Kids", kids: true });
    expect(kids).toMatchObject({ kids: true, maturityCeiling: "7+", isDefault: false, hasPin: false });
    await createProfile(viewer, { name: "Sam", audioLanguage: "fr", captionLanguage: "en" });
    await createProfile(viewer, { name: "Teen", maturityCeiling: "13+" });
    await createProfile(viewer, { name: "Guest" });
    const sixth = await call("/v1/profiles", { method: "POST", token: viewer.accessToken, json: { name: "One more" } });
    expect(sixth.status).toBe(409);
    expect((await problemOf(sixth)).detail).toBe("An account has at most 5 profiles. Delete one to make room.");
    expect((await listProfiles(viewer)).profiles.map((profile) => profile.name)).toEqual(["Ada", "Kids", "Sam", "Teen", "Guest"]);
  });

  it("answers 400 naming each bad field: a kids ceiling above 13+, a rating outside the set, a PIN that is not digits, a language", async () => {
    const viewer = await signUp();
    const response = await call("/v1/profiles", {
      method: "POST",
      token: viewer.accessToken,
      json: { name: "Kids", kids: true, maturityCeiling: "16+", pin: "12ab", audioLanguage: "english please" },
    });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.errors?.map((error) => error.path).sort()).toEqual(["audioLanguage", "maturityCeiling", "pin"]);
    const ceiling = await call("/v1/profiles", {
      method: "POST",
      token: viewer.accessToken,
      json: { name: "Kids", kids: true, maturityCeiling: "16+" },
    });
    expect((await problemOf(ceiling)).errors).toEqual([{ path: "maturityCeiling", message: "A kids profile's ceiling is at most 13+." }]);
    const rating = await call("/v1/profiles", { method: "POST", token: viewer.accessToken, json: { name: "X", maturityCeiling: "PG" } });
    expect((await problemOf(rating)).errors?.[0]?.message).toMatch(/^maturityCeiling is one of all, 7\+, 13\+, 16\+ or 18\+/);
  });

  it("select: checks the PIN in the object, throttles wrong ones on its clock, and binds the session: refresh keeps the profile", async () => {
    const viewer = await signUp();
    const locked = await createProfile(viewer, { name: "Parent", pin: "2580" });
    expect(locked.hasPin).toBe(true);
    const select = (pin?: string) =>
      call(`/v1/profiles/${locked.id}/select`, { method: "POST", token: viewer.accessToken, json: pin === undefined ? {} : { pin } });

    const none = await select();
    expect(none.status).toBe(403);
    expect((await problemOf(none)).detail).toBe("This profile is locked with a PIN. Enter its PIN to continue.");
    for (let i = 1; i < PIN_TRIES; i++) {
      const wrong = await select("0000");
      expect(wrong.status).toBe(403);
      expect((await problemOf(wrong)).detail).toMatch(new RegExp(`^That PIN is not right. ${PIN_TRIES - i} tr`));
    }
    const last = await select("0000");
    expect(last.status).toBe(429);
    expect(Number(last.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Locked: the right PIN too, until the window ends on the object's clock.
    expect((await select("2580")).status).toBe(429);
    advanceClock(PIN_WINDOW_MS);
    // The access token expired meanwhile (5 minutes); the session did not.
    const later = await refresh(viewer);
    const right = await call(`/v1/profiles/${locked.id}/select`, { method: "POST", token: later.accessToken, json: { pin: "2580" } });
    expect(right.status).toBe(200);
    const selected = (await right.json()) as { profile: ProfileAnswer; accessToken: string };
    expect(selected.profile).toMatchObject({ id: locked.id, name: "Parent", hasPin: true });
    expect(claimsOf(selected.accessToken)).toMatchObject({ sub: viewer.user.id, pid: locked.id, mc: 4 });
    expect((await listProfiles({ ...later, accessToken: selected.accessToken })).current).toBe(locked.id);

    // The PIN is stored hashed, nowhere as typed.
    const stub = env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(viewer.user.id));
    await runInDurableObject(stub, (_instance: ViewerState, state) => {
      const rows = state.storage.sql.exec<{ pin_hash: string }>("SELECT pin_hash FROM profiles WHERE id = ?", locked.id).toArray();
      expect(rows[0]?.pin_hash).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
      expect(JSON.stringify(state.storage.sql.exec("SELECT * FROM profiles").toArray())).not.toContain("2580");
    });

    // The session's refreshes keep the profile, with its ceiling as it is at the refresh.
    expect(claimsOf((await refresh(later)).accessToken)).toMatchObject({ pid: locked.id, mc: 4 });
  });

  it("a ceiling lowered by an edit reaches the next refresh of the sessions on the profile", async () => {
    const viewer = await signUp();
    const teen = await createProfile(viewer, { name: "Teen", maturityCeiling: "16+" });
    const device = await selectProfile(await anotherSession(viewer), teen.id);
    expect(claimsOf(device.accessToken)).toMatchObject({ pid: teen.id, mc: 3 });
    const edit = await call(`/v1/profiles/${teen.id}`, { method: "PATCH", token: viewer.accessToken, json: { maturityCeiling: "13+" } });
    expect(edit.status).toBe(200);
    expect(((await edit.json()) as { profile: ProfileAnswer }).profile.maturityCeiling).toBe("13+");
    expect(claimsOf((await refresh(device)).accessToken)).toMatchObject({ pid: teen.id, mc: 2 });
  });

  it("a kids profile manages no profiles; the main one cannot be deleted; deleting a profile signs out the devices on it", async () => {
    const viewer = await signUp();
    const { profile, kids } = await kidsSession(viewer);
    const other = await createProfile(viewer, { name: "Sam" });
    for (const [path, method, json] of [
      ["/v1/profiles", "POST", { name: "Mine now" }],
      [`/v1/profiles/${profile.id}`, "PATCH", { maturityCeiling: "18+" }],
      [`/v1/profiles/${other.id}`, "DELETE", undefined],
    ] as const) {
      const response = await call(path, { method, token: kids.accessToken, json });
      expect(response.status).toBe(403);
      expect((await problemOf(response)).detail).toBe("A kids profile cannot manage profiles. Switch to another profile to do this.");
    }
    const main = await call(`/v1/profiles/${viewer.user.id}`, { method: "DELETE", token: viewer.accessToken });
    expect(main.status).toBe(409);
    const makeKids = await call(`/v1/profiles/${viewer.user.id}`, { method: "PATCH", token: viewer.accessToken, json: { kids: true } });
    expect(makeKids.status).toBe(409);

    const tablet = await selectProfile(await anotherSession(viewer), other.id);
    const inUse = await call(`/v1/profiles/${other.id}`, { method: "DELETE", token: tablet.accessToken });
    expect(inUse.status).toBe(409);
    expect((await call(`/v1/profiles/${other.id}`, { method: "DELETE", token: viewer.accessToken })).status).toBe(204);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: tablet.refreshToken } })).status).toBe(401);
    expect((await call("/v1/profiles", { token: tablet.accessToken })).status).toBe(401);
    expect((await call(`/v1/profiles/${other.id}`, { method: "DELETE", token: viewer.accessToken })).status).toBe(404);
  });

  it("refuses without a token, and knows no profile of another account", async () => {
    const [ada, sam] = await Promise.all([signUp(), signUp()]);
    const samsKids = await createProfile(sam, { name: "Kids", kids: true });
    expect((await call("/v1/profiles")).status).toBe(401);
    expect((await call(`/v1/profiles/${samsKids.id}/select`, { method: "POST", json: {} })).status).toBe(401);
    for (const [path, method, json] of [
      [`/v1/profiles/${samsKids.id}/select`, "POST", {}],
      [`/v1/profiles/${samsKids.id}`, "PATCH", { name: "Mine" }],
      [`/v1/profiles/${samsKids.id}`, "DELETE", undefined],
    ] as const) {
      expect((await call(path, { method, token: ada.accessToken, json })).status).toBe(404);
    }
  });
});

describe("a kids profile's maturity ceiling, on every route", () => {
  async function setUp() {
    const viewer = await subscribedViewer("standard");
    const genre = uniqueGenre("ceiling");
    const word = `zq${crypto.randomUUID().replaceAll("-", "").slice(0, 10).replace(/\d/g, "x")}`;
    const [forKids] = await insertReadyVideos(1, { genres: [genre], title: () => `The ${word} picnic`, maturityRating: "7+" });
    const [forAdults] = await insertReadyVideos(1, { genres: [genre], title: () => `The ${word} heist`, maturityRating: "18+" });
    if (!forKids || !forAdults) throw new Error("no videos inserted");
    const { kids } = await kidsSession(viewer);
    return { viewer, kids, genre, word, forKids, forAdults };
  }

  const ids = (body: { items: { id: string }[] }) => body.items.map((item) => item.id).sort();

  it("lists, searches and opens only titles up to the ceiling; one above it is 404, as an unknown id is", async () => {
    const { viewer, kids, genre, word, forKids, forAdults } = await setUp();
    const list = async (token: string) => ids(await (await call(`/v1/videos?genre=${genre}`, { token })).json());
    expect(await list(viewer.accessToken)).toEqual([forKids.id, forAdults.id].sort());
    expect(await list(kids.accessToken)).toEqual([forKids.id]);

    const search = async (token: string) => ids(await (await call(`/v1/search?q=${word}`, { token })).json());
    // Twice each: the second answer is the cached first page, kept per ceiling.
    for (let i = 0; i < 2; i++) {
      expect(await search(viewer.accessToken)).toEqual([forKids.id, forAdults.id].sort());
      expect(await search(kids.accessToken)).toEqual([forKids.id]);
    }

    expect((await call(`/v1/videos/${forKids.id}`, { token: kids.accessToken })).status).toBe(200);
    expect((await call(`/v1/videos/${forAdults.id}`, { token: viewer.accessToken })).status).toBe(200);
    const above = await call(`/v1/videos/${forAdults.id}`, { token: kids.accessToken });
    expect(above.status).toBe(404);
    expect((await problemOf(above)).detail).toBe(`There is no video with id '${forAdults.id}'.`);
  });

  it("home rows hold no title above the ceiling, continue-watching included", async () => {
    const { viewer, kids, forKids, forAdults } = await setUp();
    const rowIds = async (token: string) => {
      const { rows } = (await (await call("/v1/home", { token })).json()) as { rows: { items: { id: string }[] }[] };
      return rows.flatMap((row) => row.items.map((item) => item.id));
    };
    // The account's main profile starts the title for adults: it is in that profile's continue-watching row.
    const heartbeat = await call(`/v1/videos/${forAdults.id}/progress`, {
      method: "PUT",
      token: viewer.accessToken,
      json: { positionSeconds: 10 },
    });
    expect(heartbeat.status).toBe(204);
    const { rows } = (await (await call("/v1/home", { token: viewer.accessToken })).json()) as {
      rows: { id: string; items: { id: string }[] }[];
    };
    expect(rows[0]).toMatchObject({ id: "continue-watching", items: [{ id: forAdults.id }] });
    expect(await rowIds(viewer.accessToken)).toEqual(expect.arrayContaining([forKids.id, forAdults.id]));
    const kidsRows = await rowIds(kids.accessToken);
    expect(kidsRows).toContain(forKids.id);
    expect(kidsRows).not.toContain(forAdults.id);
  });

  it("play refuses a title above the ceiling (GET, HEAD, POST) as unknown, and plays one below it", async () => {
    const viewer = await subscribedViewer("standard");
    const forAdults = await readyVideo();
    const forKids = await readyVideo();
    const { kids } = await kidsSession(viewer);
    // Titles made without a rating are 18+; this one is rated 7+ before anything reads it.
    await withDatabase((db) => db.update(videos).set({ maturityRating: "7+" }).where(eq(videos.id, forKids.id)));
    for (const method of ["GET", "HEAD", "POST"]) {
      const response = await call(`/v1/videos/${forAdults.id}/play`, { method, token: kids.accessToken });
      expect(response.status, method).toBe(404);
    }
    const allowed = await call(`/v1/videos/${forKids.id}/play`, { token: kids.accessToken });
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    expect((await call(`/v1/videos/${forAdults.id}/play`, { token: viewer.accessToken })).status).toBe(200);
  });

  it("play checks the ceiling the profile has now in the object, not the one its token still claims", async () => {
    const viewer = await subscribedViewer("standard");
    const video = await readyVideo();
    const teen = await createProfile(viewer, { name: "Teen", maturityCeiling: "18+" });
    const device = await selectProfile(await anotherSession(viewer), teen.id);
    const lowered = await call(`/v1/profiles/${teen.id}`, { method: "PATCH", token: viewer.accessToken, json: { maturityCeiling: "16+" } });
    expect(lowered.status).toBe(200);
    // The token says 18+ for a few minutes more: browse still shows the title, play does not.
    expect(claimsOf(device.accessToken).mc).toBe(4);
    expect((await call(`/v1/videos/${video.id}`, { token: device.accessToken })).status).toBe(200);
    expect((await call(`/v1/videos/${video.id}/play`, { token: device.accessToken })).status).toBe(404);
  });
});
