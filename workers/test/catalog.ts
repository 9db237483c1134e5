import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { expect } from "vitest";
import { type NewVideo, seasons, series, users, type Video, videos } from "../../schema/index.ts";
import { testClock } from "../../testing/clock.ts";
import type { Database } from "../platform/db.ts";
import { createServices, type Services, type ServicesOptions } from "../platform/services.ts";
import { catalogVersionEntry, newVideoId } from "../videos/index.ts";
import { type CallInit, call, type SignedIn, signUp } from "./helpers.ts";

/**
 * Services as the composition root builds them for the Worker under test (its env and clock, a
 * fresh execution context), closed and settled after `run`: for what no public route may do.
 */
export async function withTestServices<T>(run: (services: Services) => Promise<T>, options: Partial<ServicesOptions> = {}): Promise<T> {
  const ctx = createExecutionContext();
  const services = await createServices(env, ctx, { clock: testClock, logFields: { test: true }, ...options });
  try {
    return await run(services);
  } finally {
    await services.close();
    await waitOnExecutionContext(ctx);
  }
}

/**
 * Test-only access to the test database, for what no public route may do: make videos `ready`
 * before the upload pipeline exists, promote an admin, move a subscription's clock.
 */
export function withDatabase<T>(run: (db: Database) => Promise<T>): Promise<T> {
  return withTestServices((services) => run(services.db));
}

/** A genre no other test uses: lists filtered by it see only this test's videos. */
export function uniqueGenre(label = "test"): string {
  return `${label}-${crypto.randomUUID().slice(0, 13)}`;
}

/**
 * Inserts `count` ready videos in one statement. `publishedAt(i)` sets each one's catalog
 * position; by default they are one millisecond apart, newest first, ending an hour ago.
 */
export async function insertReadyVideos(
  count: number,
  options: { genres: string[]; title?: (i: number) => string; publishedAt?: (i: number) => Date } & Omit<
    Partial<NewVideo>,
    "title" | "publishedAt" | "genres"
  > = {
    genres: [],
  },
): Promise<Video[]> {
  const { title, publishedAt, ...fields } = options;
  const base = Date.now() - 3_600_000;
  const rows: NewVideo[] = Array.from({ length: count }, (_, i) => ({
    id: newVideoId(),
    title: title?.(i) ?? `Generated video ${i}`,
    summary: `Summary of generated video ${i}.`,
    releaseYear: 2000 + (i % 25),
    cast: ["Ada Brook"],
    durationSeconds: 60 + i,
    renditions: [
      { height: 480, bitrate: 1_200_000, codec: "avc1.4d401e" },
      { height: 1080, bitrate: 5_000_000, codec: "avc1.640028" },
    ],
    posterKey: "poster.jpg",
    storyboardKey: "storyboard.vtt",
    ...fields,
    state: "ready",
    publishedAt: publishedAt?.(i) ?? new Date(base - i),
  }));
  const inserted = await withDatabase((db) => db.insert(videos).values(rows).returning());
  await bumpCatalogVersion();
  return inserted;
}

/**
 * A new catalog version, as every change to what is listed writes (`syncCatalogCache`): videos
 * inserted behind the API's back are then seen by lists and by the catalog's genres. Straight to
 * the binding (not through the local stack's one-write-per-second rule): tests insert often.
 */
export async function bumpCatalogVersion(): Promise<void> {
  await env.CACHE.put(catalogVersionEntry().key, JSON.stringify(`${testClock.now().toString(36)}.${crypto.randomUUID().slice(0, 8)}`));
}

/**
 * A series made in the database (as the admin routes would): `episodes` become season `season`'s
 * episodes 1, 2, … in their order. Before any read of their documents, so none is cached without
 * its place; a new catalog version for the series' page.
 */
export async function insertSeries(fields: { title: string; summary?: string }, episodes: Video[], season = 1): Promise<string> {
  const id = newVideoId();
  await withDatabase(async (db) => {
    await db.insert(series).values({ id, title: fields.title, summary: fields.summary ?? `${fields.title}, in episodes.` });
    await db.insert(seasons).values({ seriesId: id, number: season });
    for (const [i, episode] of episodes.entries()) {
      await db
        .update(videos)
        .set({ seriesId: id, seasonNumber: season, episodeNumber: i + 1 })
        .where(eq(videos.id, episode.id));
    }
  });
  await bumpCatalogVersion();
  return id;
}

/** A fresh account with the admin role (set in the database, which is where `requireAdmin` looks). */
export async function signUpAdmin(): Promise<SignedIn> {
  const admin = await signUp({ name: "Test Admin" });
  await withDatabase((db) => db.update(users).set({ role: "admin" }).where(eq(users.id, admin.user.id)));
  return admin;
}

/** Changes a row behind the API's back (no cache invalidation): shows whether a read came from KV. */
export function setTitleInDatabaseOnly(id: string, title: string) {
  return withDatabase((db) => db.update(videos).set({ title, updatedAt: sql`now()` }).where(eq(videos.id, id)));
}

/** A KV binding that fails every call, as KV does when it is unavailable. */
export const brokenKv = new Proxy(
  {},
  {
    get: () => () => Promise.reject(new Error("KV is unavailable (test)")),
  },
) as KVNamespace;

/** Calls the Worker with a modified environment (a broken binding, another APP_ENV). */
export function callWithEnv(overrides: Partial<Env>, path: string, init: CallInit = {}) {
  return call(path, { ...init, env: overrides });
}

/** Reads a problem+json answer and checks it is one. */
export async function problemOf(response: Response) {
  expect(response.headers.get("Content-Type")).toContain("application/problem+json");
  return (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
    errors?: { path: string; message: string }[];
  };
}

/**
 * The items of the catalog's list filtered by `genre`, as `token`'s viewer sees them: none when no
 * listed title has the genre (the API answers that with a 400 naming the field, issue 21).
 */
export async function listedInGenre(genre: string, token: string): Promise<unknown[]> {
  const response = await call(`/v1/videos?genre=${encodeURIComponent(genre)}`, { token });
  if (response.status === 400) {
    expect((await problemOf(response)).errors?.[0]?.path).toBe("genre");
    return [];
  }
  expect(response.status).toBe(200);
  return ((await response.json()) as { items: unknown[] }).items;
}
