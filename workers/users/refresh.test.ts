import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../schema/index.ts";
import { countingEnv, noCalls, UNREACHABLE_DATABASE_URL } from "../../testing/binding-calls.ts";
import worker from "../index.ts";
import { problemOf, withDatabase } from "../test/catalog.ts";
import { call, clockNow, type SignedIn, signUp } from "../test/helpers.ts";
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
