import { rmSync } from "node:fs";
import { createNodePool } from "../scripts/lib/database.ts";
import { type LocalDatabase, startDatabase, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { generateLadder, insertReadyVideo, ladderMedia, randomVideoId, subscribedViewer, uploadLadder } from "./playback-fixtures.ts";
import { testWorkerEntry } from "./test-worker.ts";
import { type Answer, type JourneyLog, routeFamilies, type ViewerJourney, viewerJourney } from "./viewer-journey.ts";

/**
 * What the outage test (e2e/outage.test.ts) and `npm run bench:outage` share: the record of every
 * version of a position Postgres took, the requests that need Postgres, and the wait for the
 * backlog to drain once it is back.
 */

/**
 * Writes down, in the same transaction, every version of a `watch_progress` row Postgres takes
 * (a trigger into `test_progress_writes`): a version written twice shows there.
 */
export async function recordProgressWrites(database: LocalDatabase): Promise<void> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    await pool.query(`
      create table test_progress_writes (user_id text, video_id text, updated_at timestamptz, position_seconds float8);
      create function test_record_progress_write() returns trigger language plpgsql as $$
        begin insert into test_progress_writes values (new.user_id, new.video_id, new.updated_at, new.position_seconds); return new; end $$;
      create trigger test_progress_writes after insert or update on watch_progress
        for each row execute function test_record_progress_write();`);
  } finally {
    await pool.end();
  }
}

/** Versions of a position written more than once (`recordProgressWrites`): must be none. */
export async function progressWrittenTwice(database: LocalDatabase): Promise<unknown[]> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    const { rows } = await pool.query(
      "select user_id, video_id, updated_at, count(*)::int as n from test_progress_writes group by 1, 2, 3 having count(*) > 1",
    );
    return rows;
  } finally {
    await pool.end();
  }
}

/** Makes a user an admin (the outage test's admin writes). */
export async function makeAdmin(database: LocalDatabase, userId: string): Promise<void> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    await pool.query("update users set role = 'admin' where id = $1", [userId]);
  } finally {
    await pool.end();
  }
}

/** Positions by user id, then video id. */
export type Positions = Record<string, Record<string, number>>;

/**
 * Waits until Postgres holds each user's last acknowledged position of every title (`expected`),
 * reading every 2 s until `deadlineMs`; answers what it holds by then (equal to `expected` when
 * the backlog drained) and when that was.
 */
export async function waitForPositions(
  database: LocalDatabase,
  expected: Positions,
  deadlineMs: number,
  onRead?: (held: number, total: number) => void,
): Promise<{ stored: Positions; drainedAt: number | null }> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    let stored: Positions = {};
    for (;;) {
      const { rows } = await pool.query<{ user_id: string; video_id: string; position_seconds: number }>(
        "select user_id, video_id, position_seconds from watch_progress where user_id = any($1)",
        [Object.keys(expected)],
      );
      stored = {};
      for (const row of rows) stored[row.user_id] = { ...stored[row.user_id], [row.video_id]: row.position_seconds };
      const wanted = Object.entries(expected).flatMap(([userId, titles]) =>
        Object.entries(titles).map(([videoId, position]) => stored[userId]?.[videoId] === position),
      );
      const held = wanted.filter(Boolean).length;
      onRead?.(held, wanted.length);
      const drained = held === wanted.length;
      if (drained) return { stored, drainedAt: Date.now() };
      if (Date.now() > deadlineMs) return { stored, drainedAt: null };
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  } finally {
    await pool.end();
  }
}

/** Positions a viewer was acknowledged (204) that Postgres does not hold: lost rows. */
export function lostPositions(expected: Positions, stored: Positions): string[] {
  return Object.entries(expected).flatMap(([userId, titles]) =>
    Object.entries(titles)
      .filter(([videoId, position]) => stored[userId]?.[videoId] !== position)
      .map(([videoId, position]) => `${userId}/${videoId}: ${position} s acknowledged, ${stored[userId]?.[videoId] ?? "nothing"} stored`),
  );
}

/** A sign-in (needs Postgres: the account and the password). */
export function signinRequest(email: string): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": "2001:db8::5" },
    body: JSON.stringify({ email, password: "correct horse battery staple" }),
  };
}

/** An admin write (needs Postgres): a title that must not be saved while Postgres is down. */
export const OUTAGE_TITLE = "Made during the outage";
export function adminWriteRequest(accessToken: string): RequestInit {
  return {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title: OUTAGE_TITLE, summary: "Should not be saved.", genres: ["drama"], releaseYear: 2026 }),
  };
}

/** Each minute of an outage: a sign-in and an admin write, which Postgres's absence refuses in words. */
export function needsPostgresEachMinute(baseUrl: string, admin: { user: { email: string }; accessToken: string }) {
  return async (log: JourneyLog) => {
    await log.record("sign-in", await fetch(`${baseUrl}/v1/auth/signin`, signinRequest(admin.user.email)), false);
    await log.record("admin write", await fetch(`${baseUrl}/v1/admin/videos`, adminWriteRequest(admin.accessToken)), false);
  };
}

/**
 * The outage's answers per route family, as lines to print: the share answered of each family of
 * the viewer's path, and how many sign-ins and admin writes were refused in words (503,
 * `Retry-After`, a detail). `whole`: every request of the viewer's path was answered.
 */
export function outageReport(answers: Answer[]): { lines: string[]; whole: boolean } {
  const lines: string[] = [];
  let whole = true;
  for (const family of routeFamilies) {
    const of = answers.filter((answer) => answer.family === family);
    const ok = of.filter((answer) => answer.ok).length;
    if (ok < of.length) whole = false;
    lines.push(`${family.padEnd(20)} ${ok}/${of.length} answered = ${((ok / Math.max(1, of.length)) * 100).toFixed(1)} %`);
  }
  for (const family of ["sign-in", "admin write"]) {
    const of = answers.filter((answer) => answer.family === family);
    const inWords = of.filter((answer) => answer.status === 503 && Number(answer.retryAfter) > 0 && answer.detail).length;
    lines.push(`${family.padEnd(20)} ${inWords}/${of.length} refused in words (503, Retry-After)`);
  }
  return { lines, whole };
}

/**
 * The stage of `npm run bench:outage` and `npm run gameday`: a throw-away PostgreSQL cluster
 * (recording every write of a position), the local stack on the test Worker (whose routes put the
 * ladder into R2; heartbeats gather 15 s before an object sends them, 120 s in production), two
 * titles, `viewerCount` subscribed viewers warmed up (their journeys), and an admin.
 */
export async function startOutageStage(viewerCount: number) {
  const [database, ladder] = await Promise.all([startDatabase({ kind: "postgresql" }), generateLadder(12)]);
  await recordProgressWrites(database);
  const stack = await startLocalStack({
    main: testWorkerEntry,
    database,
    transcoders: 0,
    vars: { PROGRESS_FLUSH_SECONDS: "15" },
    logLevel: "warn",
  });
  const stop = async () => {
    await stack.stop();
    await database.stop();
    rmSync(ladder.root, { recursive: true, force: true });
  };
  try {
    const control = database.server;
    if (!control) throw new Error("the throw-away cluster has no server control");
    const titles = [randomVideoId(), randomVideoId()];
    for (const id of titles) {
      await insertReadyVideo(database, id, ladderMedia(ladder));
      await uploadLadder(stack.url, id, ladder.dir);
    }
    const viewers: Awaited<ReturnType<typeof subscribedViewer>>[] = [];
    for (let i = 0; i < viewerCount; i++) viewers.push(await subscribedViewer(stack.url, "standard"));
    const admin = await subscribedViewer(stack.url, "basic");
    await makeAdmin(database, admin.user.id);
    const journeys: ViewerJourney[] = viewers.map((viewer) => viewerJourney(stack.url, viewer, titles));
    for (const journey of journeys) await journey.warmUp();
    /** Each viewer's last acknowledged position of every title: what Postgres must hold. */
    const expected = (): Positions => Object.fromEntries(viewers.map((viewer, i) => [viewer.user.id, journeys[i]?.lastPositions() ?? {}]));
    return { database, stack, control, viewers, admin, journeys, expected, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * After Postgres's return: waits (up to `drainSeconds`) until it holds every acknowledged position,
 * and answers the lines to print (drain time, rows lost, versions written twice) and whether
 * nothing was lost or written twice.
 */
export async function drainReport(
  database: LocalDatabase,
  expected: Positions,
  restartedAt: number,
  drainSeconds: number,
  onRead?: (held: number, total: number) => void,
): Promise<{ lines: string[]; intact: boolean }> {
  const { stored, drainedAt } = await waitForPositions(database, expected, restartedAt + drainSeconds * 1000, onRead);
  const lost = lostPositions(expected, stored);
  const twice = await progressWrittenTwice(database);
  const lines = [
    drainedAt === null
      ? `backlog NOT drained within ${drainSeconds} s of Postgres's return`
      : `backlog drained ${((drainedAt - restartedAt) / 1000).toFixed(1)} s after Postgres's return (the consumer's backoff: 15 s doubling to 300 s)`,
    `positions acknowledged: ${Object.values(expected).reduce((n, titles) => n + Object.keys(titles).length, 0)}`,
    `rows lost: ${lost.length}${lost.length > 0 ? ` (${lost.join("; ")})` : ""}`,
    `versions written twice: ${twice.length}`,
  ];
  return { lines, intact: lost.length === 0 && twice.length === 0 };
}
