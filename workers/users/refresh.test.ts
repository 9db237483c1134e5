import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { REFRESH_GRACE_MAX_TOKENS, REFRESH_GRACE_MS, Sessions } from "../../durable-objects/viewer-state/sessions.ts";
import type { ViewerState } from "../../durable-objects/viewer-state.ts";
import { users } from "../../schema/index.ts";
import { countingEnv, noCalls, UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import worker from "../index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { advanceClock, call, clockNow, type SignedIn, signUp } from "../test/helpers.ts";
import { runCron } from "../test/transcoding.ts";
import { setRole } from "./roles.ts";

/** Postgres unreachable for this request: an address nothing listens on, a real connection refused. */
const withoutDatabase = { env: { DATABASE_URL: UNREACHABLE_DATABASE_URL, DATABASE_READ_URL: UNREACHABLE_DATABASE_URL } };

const refresh = (refreshToken: string, init: Parameters<typeof call>[1] = {}) =>
  call("/v1/auth/refresh", { method: "POST", json: { refreshToken }, ...init });

const claimsOf = (accessToken: string) => JSON.parse(atob(accessToken.split(".")[1] ?? "")) as { sub: string; role: string; sid: string };

describe("POST /v1/auth/refresh, in the user's object", () => {
  it("rotates with the database unreachable, and a reuse still ends the session", async () => {
    const viewer = await signUp();
    const rotated = await refresh(viewer.refreshToken, withoutDatabase);
    expect(rotated.status).toBe(200);
    const second = (await rotated.json()) as SignedIn;
    expect(second.user).toEqual(viewer.user);
    expect(claimsOf(second.accessToken)).toMatchObject({ sub: viewer.user.id, role: "viewer", sid: claimsOf(viewer.accessToken).sid });
    expect((await call("/v1/me", { token: second.accessToken, ...withoutDatabase })).status).toBe(200);
    const third = await refresh(second.refreshToken, withoutDatabase);
    expect(third.status).toBe(200);

    advanceClock(REFRESH_GRACE_MS);
    const replay = await refresh(viewer.refreshToken, withoutDatabase);
    expect(replay.status).toBe(401);
    expect((await problemOf(replay)).detail).toMatch(/already used/);
    const { refreshToken: latest, accessToken } = (await third.json()) as SignedIn;
    expect((await refresh(latest, withoutDatabase)).status).toBe(401);
    expect((await call("/v1/me", { token: accessToken, ...withoutDatabase })).status).toBe(401);
    // Browse routes see it too, through the KV deny-list the reuse wrote.
    expect((await call("/v1/videos", { token: accessToken })).status).toBe(401);
  });

  it("asks the token's object and nothing else: one Durable Object call, no query", async () => {
    const viewer = await signUp();
    const calls = noCalls();
    const ctx = createExecutionContext();
    const request = new Request("http://reelstream.test/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: viewer.refreshToken }),
    });
    const counted = countingEnv(env, calls, withoutDatabase.env);
    const response = await worker.fetch(request, counted, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    expect(calls.durableObjects).toEqual(["VIEWER_STATE.refreshSession"]);
  });

  it("refuses a token whose object id was not made by the runtime without calling any object", async () => {
    const viewer = await signUp();
    const [, family, secret] = viewer.refreshToken.slice("rsr_".length).split(".");
    const forgedId = [...crypto.getRandomValues(new Uint8Array(32))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    const calls = noCalls();
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("http://reelstream.test/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken: `rsr_${forgedId}.${family}.${secret}` }),
      }),
      countingEnv(env, calls),
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(401);
    expect(calls.durableObjects).toEqual([]);
  });

  it("refuses another user's object with this session's family, and a changed secret as a reuse", async () => {
    const [alice, bob] = [await signUp(), await signUp()];
    const [, aliceFamily, aliceSecret] = alice.refreshToken.slice("rsr_".length).split(".");
    const [bobObject] = bob.refreshToken.slice("rsr_".length).split(".");
    // Alice's family means nothing in Bob's object.
    expect((await refresh(`rsr_${bobObject}.${aliceFamily}.${aliceSecret}`)).status).toBe(401);
    expect((await refresh(bob.refreshToken)).status).toBe(200);
    // In Alice's own object, her family with a secret that is not the live one is a reuse: the session ends.
    const [aliceObject] = alice.refreshToken.slice("rsr_".length).split(".");
    const guessed = `rsr_${aliceObject}.${aliceFamily}.${"A".repeat(43)}`;
    expect((await problemOf(await refresh(guessed))).detail).toMatch(/already used/);
    expect((await refresh(alice.refreshToken)).status).toBe(401);
  });

  it("claims a role granted with `npm run admin` at the next refresh, without signing in again", async () => {
    const viewer = await signUp();
    await withDatabase((db) => setRole(db, viewer.user.email, "admin", new Date(clockNow())));
    // Until the change reaches the user's object, refresh claims the copy it holds.
    const before = (await (await refresh(viewer.refreshToken)).json()) as SignedIn;
    expect(claimsOf(before.accessToken).role).toBe("viewer");
    await runCron({ env });
    const after = await refresh(before.refreshToken, withoutDatabase);
    expect(after.status).toBe(200);
    const granted = (await after.json()) as SignedIn;
    expect(granted.user.role).toBe("admin");
    expect(claimsOf(granted.accessToken).role).toBe("admin");
    const [row] = await withDatabase((db) => db.select().from(users).where(eq(users.id, viewer.user.id)));
    expect(row?.copiedAt?.getTime()).toBe(row?.updatedAt.getTime());
    // And back: a revoke reaches the next refresh the same way.
    await withDatabase((db) => setRole(db, viewer.user.email, "viewer", new Date(clockNow())));
    await runCron({ env });
    expect(claimsOf(((await (await refresh(granted.refreshToken)).json()) as SignedIn).accessToken).role).toBe("viewer");
  });
});

describe("POST /v1/auth/refresh, the grace for a token just spent", () => {
  it("answers five concurrent refreshes of one token with five working sessions, and signs nobody out", async () => {
    const viewer = await signUp();
    const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(viewer.refreshToken, withoutDatabase)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const pairs = (await Promise.all(answers.map((answer) => answer.json()))) as SignedIn[];
    const sid = claimsOf(viewer.accessToken).sid;
    expect(new Set(pairs.map((pair) => pair.refreshToken)).size).toBe(5);
    for (const pair of pairs) {
      expect(claimsOf(pair.accessToken).sid).toBe(sid);
      expect((await call("/v1/me", { token: pair.accessToken, ...withoutDatabase })).status).toBe(200);
    }
    // Whichever answer the client kept goes on refreshing; the session was never revoked.
    const kept = pairs[3]?.refreshToken ?? "";
    const next = await refresh(kept);
    expect(next.status).toBe(200);
    expect((await call("/v1/me", { token: viewer.accessToken })).status).toBe(200);
    expect((await call("/v1/videos", { token: viewer.accessToken })).status).toBe(200);
  });

  it("gives a client whose answer was lost a new token until the grace ends, one that goes on working", async () => {
    const viewer = await signUp();
    expect((await refresh(viewer.refreshToken)).status).toBe(200); // the answer the client never read
    // Near the end of the grace (the test clock also moves with real time, so not to the last millisecond).
    advanceClock(REFRESH_GRACE_MS - 5_000);
    const retried = await refresh(viewer.refreshToken);
    expect(retried.status).toBe(200);
    const { refreshToken } = (await retried.json()) as SignedIn;
    advanceClock(60_000);
    expect((await refresh(refreshToken)).status).toBe(200);
  });

  it("still ends the session everywhere when a spent token comes back after the grace", async () => {
    const viewer = await signUp();
    const rotated = (await (await refresh(viewer.refreshToken)).json()) as SignedIn;
    advanceClock(REFRESH_GRACE_MS);
    const replay = await refresh(viewer.refreshToken);
    expect(replay.status).toBe(401);
    expect((await problemOf(replay)).detail).toMatch(/already used/);
    expect((await refresh(rotated.refreshToken)).status).toBe(401);
    for (const token of [viewer.accessToken, rotated.accessToken]) {
      expect((await call("/v1/me", { token })).status).toBe(401);
      expect((await call("/v1/videos", { token })).status).toBe(401);
    }
  });

  it("gives the grace only to the token the last rotation spent, and only so many times", async () => {
    const viewer = await signUp();
    const second = (await (await refresh(viewer.refreshToken)).json()) as SignedIn;
    expect((await refresh(second.refreshToken)).status).toBe(200);
    // The first token is two rotations old: a reuse, within 30 s or not.
    expect((await refresh(viewer.refreshToken)).status).toBe(401);
    expect((await refresh(second.refreshToken)).status).toBe(401);

    const other = await signUp();
    expect((await refresh(other.refreshToken)).status).toBe(200);
    for (let i = 0; i < REFRESH_GRACE_MAX_TOKENS; i++) expect((await refresh(other.refreshToken)).status).toBe(200);
    const flood = await refresh(other.refreshToken);
    expect((await problemOf(flood)).detail).toMatch(/already used/);
    expect((await call("/v1/me", { token: other.accessToken })).status).toBe(401);
  });

  it("works in an object made before the grace: its sessions table gains the grace's columns and keeps its sessions", async () => {
    const viewer = await signUp();
    const stub = env.VIEWER_STATE.get(env.VIEWER_STATE.idFromName(viewer.user.id)) as DurableObjectStub<ViewerState>;
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // The table as it was: the session's row without the two columns.
      sql.exec(
        "CREATE TABLE old_sessions AS SELECT id, family_hash, token_hash, created_at, expires_at, refreshed_at, user_agent FROM sessions",
      );
      sql.exec("DROP TABLE sessions");
      sql.exec("ALTER TABLE old_sessions RENAME TO sessions");
      new Sessions(sql).createTables();
      const columns = sql
        .exec<{ name: string }>("PRAGMA table_info(sessions)")
        .toArray()
        .map((column) => column.name);
      expect(columns).toEqual(expect.arrayContaining(["previous_token_hash", "grace_token_hashes"]));
    });
    const answers = await Promise.all([refresh(viewer.refreshToken), refresh(viewer.refreshToken)]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
  });
});
