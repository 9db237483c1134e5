import { createNodePool } from "../scripts/lib/database.ts";
import type { LocalDatabase } from "../scripts/lib/local-stack/index.ts";
import { type Answer, type JourneyLog, routeFamilies } from "./viewer-journey.ts";

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
