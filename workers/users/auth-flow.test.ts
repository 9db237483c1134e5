import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REFRESH_GRACE_MS } from "../../durable-objects/viewer-state/sessions.ts";
import { brokenKv, problemOf as problem } from "../test/catalog.ts";
import { advanceClock, call, inOneRateWindow, randomAddress, signUp, strongPassword, uniqueEmail } from "../test/helpers.ts";

/** Tests that count within one rate-limit window may run twice (`inOneRateWindow`). */
const RATE_WINDOW_TEST_MS = 45_000;

describe("POST /v1/auth/signup", () => {
  it("creates a viewer and returns a working token pair", async () => {
    const email = uniqueEmail();
    const response = await call("/v1/auth/signup", { method: "POST", json: { email, password: strongPassword, name: "Ada" } });
    expect(response.status).toBe(201);
    const body = (await response.json()) as {
      user: { id: string; email: string; role: string };
      accessToken: string;
      refreshToken: string;
      expiresIn: number;
    };
    expect(body.user).toMatchObject({ email, name: "Ada", role: "viewer" });
    // Access tokens live at most 5 minutes (docs/api.md); the token's own exp says the same.
    expect(body.expiresIn).toBe(300);
    const claims = JSON.parse(atob(body.accessToken.split(".")[1] ?? "")) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(300);
    const me = await call("/v1/me", { token: body.accessToken });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { id: body.user.id, email, role: "viewer" } });
  });

  it("normalises the email: case, spaces and Unicode forms are one account", async () => {
    const local = `Zoë-${crypto.randomUUID()}`;
    const first = await call("/v1/auth/signup", {
      method: "POST",
      json: { email: `  ${local}@Example.COM `, password: strongPassword, name: "Zoë" },
    });
    expect(first.status).toBe(201);
    expect(((await first.json()) as { user: { email: string } }).user.email).toBe(`${local.toLowerCase()}@example.com`);
    // The same address with a decomposed ë (e + combining diaeresis) is the same mailbox.
    const decomposed = `${local.normalize("NFD").toUpperCase()}@example.com`;
    const second = await call("/v1/auth/signup", { method: "POST", json: { email: decomposed, password: strongPassword, name: "Zoë" } });
    expect(second.status).toBe(409);
    const signin = await call("/v1/auth/signin", { method: "POST", json: { email: decomposed, password: strongPassword } });
    expect(signin.status).toBe(200);
  });

  it("creates one account per request when many sign up at once, and exactly one for a shared email", async () => {
    const emails = Array.from({ length: 12 }, () => uniqueEmail("burst"));
    const responses = await Promise.all(
      emails.map((email) => call("/v1/auth/signup", { method: "POST", json: { email, password: strongPassword, name: "Burst" } })),
    );
    expect(responses.map((response) => response.status)).toEqual(emails.map(() => 201));
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as { user: { email: string } }[];
    expect(bodies.map((body) => body.user.email)).toEqual(emails);
    const shared = uniqueEmail("race");
    const race = await Promise.all(
      [1, 2, 3].map(() => call("/v1/auth/signup", { method: "POST", json: { email: shared, password: strongPassword, name: "Race" } })),
    );
    expect(race.map((response) => response.status).sort()).toEqual([201, 409, 409]);
  });

  it(
    "limits sign-ups per client address (each costs an Argon2id hash): 5 a minute, then 429 with Retry-After",
    async () => {
      await inOneRateWindow(60, async () => {
        const ip = randomAddress();
        const responses = await Promise.all(
          Array.from({ length: 15 }, () =>
            call("/v1/auth/signup", {
              method: "POST",
              json: { email: uniqueEmail("burst"), password: strongPassword, name: "Burst" },
              headers: { "CF-Connecting-IP": ip },
            }),
          ),
        );
        const statuses = responses.map((response) => response.status).sort();
        expect(statuses).toEqual([...Array(5).fill(201), ...Array(10).fill(429)]);
        const refused = responses.find((response) => response.status === 429);
        expect(refused?.headers.get("Retry-After")).toBe("60");
        expect((await problem(refused as Response)).detail).toMatch(/Wait 60 seconds/);
      });
      // Another address signs up as usual.
      expect(
        (await call("/v1/auth/signup", { method: "POST", json: { email: uniqueEmail(), password: strongPassword, name: "Ada" } })).status,
      ).toBe(201);
    },
    RATE_WINDOW_TEST_MS,
  );

  it("answers 409 for an email that is taken, and the first account still works", async () => {
    const email = uniqueEmail();
    await signUp({ email });
    const response = await call("/v1/auth/signup", { method: "POST", json: { email, password: "another long passphrase", name: "Eve" } });
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toMatch(/already exists/);
    const signin = await call("/v1/auth/signin", { method: "POST", json: { email, password: strongPassword } });
    expect(signin.status).toBe(200);
  });

  it("keeps Unicode names and passwords intact", async () => {
    const email = uniqueEmail();
    const password = "пароль-密码-🔑-contraseña";
    const response = await call("/v1/auth/signup", { method: "POST", json: { email, password, name: "  Łukasz 李 🎬 " } });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { user: { name: string } }).user.name).toBe("Łukasz 李 🎬");
    expect((await call("/v1/auth/signin", { method: "POST", json: { email, password } })).status).toBe(200);
  });

  it("refuses look-alike accounts: invisible characters in emails, bidirectional controls in names", async () => {
    const local = `zw${crypto.randomUUID().slice(0, 8)}`;
    for (const invisible of ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u0007"]) {
      const response = await call("/v1/auth/signup", {
        method: "POST",
        json: { email: `${local.slice(0, 2)}${invisible}${local.slice(2)}@example.com`, password: strongPassword, name: "Zed" },
      });
      expect(response.status, JSON.stringify(invisible)).toBe(400);
      const body = await problem(response);
      expect(body.errors?.[0]).toMatchObject({ path: "email" });
      expect(body.errors?.[0]?.message).toMatch(/U\+[0-9A-F]{4}.*remove it/);
    }
    // None of them became an account: the visible address is still free.
    expect(
      (await call("/v1/auth/signup", { method: "POST", json: { email: `${local}@example.com`, password: strongPassword, name: "Zed" } }))
        .status,
    ).toBe(201);
    for (const name of ["Ada\u202eecalevoL", "\u2067Ada", "Ada\u200bLovelace", "Ada\u200fLovelace"]) {
      const response = await call("/v1/auth/signup", { method: "POST", json: { email: uniqueEmail(), password: strongPassword, name } });
      expect(response.status, JSON.stringify(name)).toBe(400);
      expect((await problem(response)).errors?.[0]?.path).toBe("name");
    }
    // Joiners are part of real names and emoji: a Persian name and a family emoji are accepted.
    for (const name of ["می\u200cخواهم", "👨\u200d👩\u200d👧 Family"]) {
      const response = await call("/v1/auth/signup", { method: "POST", json: { email: uniqueEmail(), password: strongPassword, name } });
      expect(response.status, name).toBe(201);
      expect(((await response.json()) as { user: { name: string } }).user.name).toBe(name);
    }
  });

  it.each([
    [{ email: "not-an-email", password: strongPassword, name: "A" }, "email"],
    [{ email: uniqueEmail(), password: "short", name: "A" }, "password"],
    [{ email: uniqueEmail(), password: "1234567890", name: "A" }, "password"],
    [{ email: uniqueEmail(), password: "aaaaaaaaaaaaaaa", name: "A" }, "password"],
    [{ email: uniqueEmail(), password: "x".repeat(129), name: "A" }, "password"],
    [{ email: uniqueEmail(), password: strongPassword, name: "   " }, "name"],
    [{ email: uniqueEmail(), password: strongPassword, name: "bad\u0000name" }, "name"],
    [{ email: uniqueEmail(), password: strongPassword }, "name"],
    [{ email: 42, password: strongPassword, name: "A" }, "email"],
    [{ email: uniqueEmail(), password: ["array"], name: "A" }, "password"],
    [{ email: uniqueEmail(), password: strongPassword, name: "A", role: "admin" }, "(body)"],
  ])("answers 400 with the field that is wrong: %j", async (json, field) => {
    const response = await call("/v1/auth/signup", { method: "POST", json });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.errors?.length).toBeGreaterThan(0);
    expect(body.errors?.map((error) => error.path)).toContain(field);
    for (const error of body.errors ?? []) expect(error.message.length).toBeGreaterThan(5);
  });

  it("refuses to create an admin through the body (unknown fields are rejected, nothing is stored)", async () => {
    const email = uniqueEmail();
    const response = await call("/v1/auth/signup", {
      method: "POST",
      json: { email, password: strongPassword, name: "Mallory", role: "admin" },
    });
    expect(response.status).toBe(400);
    expect((await call("/v1/auth/signin", { method: "POST", json: { email, password: strongPassword } })).status).toBe(401);
  });
});

describe("POST /v1/auth/signin", () => {
  it("signs in with the right password, in any case of the email", async () => {
    const { user } = await signUp();
    const response = await call("/v1/auth/signin", { method: "POST", json: { email: user.email.toUpperCase(), password: strongPassword } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { user: { id: string }; accessToken: string; refreshToken: string };
    expect(body.user.id).toBe(user.id);
    expect(body.accessToken.split(".")).toHaveLength(3);
    expect(body.refreshToken).toMatch(/^rsr_/);
  });

  it("answers the same 401 for an unknown email and for a wrong password", async () => {
    const { user } = await signUp();
    const wrong = await call("/v1/auth/signin", { method: "POST", json: { email: user.email, password: "not the password" } });
    const unknown = await call("/v1/auth/signin", { method: "POST", json: { email: uniqueEmail("nobody"), password: "not the password" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [await problem(wrong), await problem(unknown)];
    expect({ ...a, requestId: "" }).toEqual({ ...b, requestId: "" });
  });

  /** A sign-in from `ip`. */
  const signinFrom = (ip: string, email: string, password: string) =>
    call("/v1/auth/signin", { method: "POST", json: { email, password }, headers: { "CF-Connecting-IP": ip } });

  it(
    "lets the owner sign in while strangers guess from rotating addresses: nobody can lock an account",
    async () => {
      await inOneRateWindow(60, async () => {
        const { user } = await signUp();
        // 30 wrong passwords from 30 addresses: more than the account's 20 failures a minute.
        const guesses = await Promise.all(
          Array.from({ length: 30 }, (_, i) => signinFrom(randomAddress(), user.email, `wrong guess ${i}`)),
        );
        expect(guesses.map((response) => response.status)).toEqual(guesses.map(() => 401));
        // The owner, from an address that has not failed, signs in at once.
        expect((await signinFrom(randomAddress(), user.email, strongPassword)).status).toBe(200);
      });
    },
    RATE_WINDOW_TEST_MS,
  );

  it(
    "throttles one address on one account after 10 attempts a minute, with 429 and Retry-After",
    async () => {
      await inOneRateWindow(60, async () => {
        const { user } = await signUp();
        const ip = randomAddress();
        const statuses: number[] = [];
        let retryAfter: string | null = null;
        for (let i = 0; i < 12; i++) {
          const response = await signinFrom(ip, user.email, `wrong guess ${i}`);
          statuses.push(response.status);
          if (response.status === 429) retryAfter = response.headers.get("Retry-After");
        }
        expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
        expect(retryAfter).toBe("60");
        // Another address is not affected: the owner still signs in.
        expect((await signinFrom(randomAddress(), user.email, strongPassword)).status).toBe(200);
      });
    },
    RATE_WINDOW_TEST_MS,
  );

  it(
    "gives an address that failed on an account under attack no second guess in the window",
    async () => {
      await inOneRateWindow(60, async () => {
        const { user } = await signUp();
        const ips = Array.from({ length: 22 }, () => randomAddress());
        for (const ip of ips) expect((await signinFrom(ip, user.email, "wrong guess")).status).toBe(401);
        // The first 20 failures were an ordinary bad day; the 21st and 22nd came while the account was
        // under attack, so their addresses are refused before any password is checked, the right one too.
        const early = await signinFrom(ips[0] ?? "", user.email, "wrong again");
        expect(early.status).toBe(401);
        const late = await signinFrom(ips[21] ?? "", user.email, strongPassword);
        expect(late.status).toBe(429);
        expect((await problem(late)).detail).toMatch(/Wait 60 seconds/);
        // Anyone else, the owner included, still gets their password checked.
        expect((await signinFrom(randomAddress(), user.email, strongPassword)).status).toBe(200);
      });
    },
    RATE_WINDOW_TEST_MS,
  );

  it(
    "throttles one client that tries many accounts",
    async () => {
      await inOneRateWindow(60, async () => {
        const ip = randomAddress();
        const statuses: number[] = [];
        for (let i = 0; i < 22; i++) statuses.push((await signinFrom(ip, uniqueEmail(), "whatever password")).status);
        expect(statuses).toEqual([...Array(20).fill(401), 429, 429]);
      });
    },
    RATE_WINDOW_TEST_MS,
  );
});

describe("POST /v1/auth/refresh", () => {
  it("rotates: the new pair works and the old refresh token is spent", async () => {
    const first = await signUp();
    const response = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: first.refreshToken } });
    expect(response.status).toBe(200);
    const second = (await response.json()) as { accessToken: string; refreshToken: string; user: { id: string } };
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.user.id).toBe(first.user.id);
    expect((await call("/v1/me", { token: second.accessToken })).status).toBe(200);
    const third = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: second.refreshToken } });
    expect(third.status).toBe(200);
  });

  it("revokes the whole session when a spent refresh token is presented again after the grace", async () => {
    const first = await signUp();
    const rotated = (await (await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: first.refreshToken } })).json()) as {
      accessToken: string;
      refreshToken: string;
    };
    advanceClock(REFRESH_GRACE_MS);
    const replay = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: first.refreshToken } });
    expect(replay.status).toBe(401);
    expect((await problem(replay)).detail).toMatch(/already used/);
    // Both the thief's and the owner's tokens of that session are now dead.
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: rotated.refreshToken } })).status).toBe(401);
    expect((await call("/v1/me", { token: rotated.accessToken })).status).toBe(401);
    expect((await call("/v1/me", { token: first.accessToken })).status).toBe(401);
  });

  it("answers 401 for an unknown, malformed or missing refresh token (no body token and no cookie)", async () => {
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: "rsr_forged" } })).status).toBe(401);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: "' OR 1=1 --" } })).status).toBe(401);
    const missing = await call("/v1/auth/refresh", { method: "POST", json: {} });
    expect(missing.status).toBe(401);
    expect((await problem(missing)).detail).toMatch(/no session to refresh/);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: "" } })).status).toBe(400);
  });

  it("does not accept an access token as a refresh token", async () => {
    const { accessToken } = await signUp();
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: accessToken.slice(0, 200) } })).status).toBe(401);
  });
});

describe("POST /v1/auth/signout", () => {
  it("kills the session's access and refresh tokens at once, and only that session's", async () => {
    const device1 = await signUp();
    const device2 = (await (
      await call("/v1/auth/signin", { method: "POST", json: { email: device1.user.email, password: strongPassword } })
    ).json()) as { accessToken: string; refreshToken: string };

    const response = await call("/v1/auth/signout", { method: "POST", token: device1.accessToken });
    expect(response.status).toBe(204);

    const me = await call("/v1/me", { token: device1.accessToken });
    expect(me.status).toBe(401);
    expect(me.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: device1.refreshToken } })).status).toBe(401);
    expect((await call("/v1/auth/signout", { method: "POST", token: device1.accessToken })).status).toBe(401);

    expect((await call("/v1/me", { token: device2.accessToken })).status).toBe(200);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: device2.refreshToken } })).status).toBe(200);
  });

  it("puts the session on the browse routes' KV deny-list until its last access token has expired", async () => {
    const viewer = await signUp();
    const { sid, exp } = JSON.parse(atob(viewer.accessToken.split(".")[1] ?? "")) as { sid: string; exp: number };
    expect((await call("/v1/videos", { token: viewer.accessToken })).status).toBe(200);
    expect((await call("/v1/auth/signout", { method: "POST", token: viewer.accessToken })).status).toBe(204);
    const { keys } = await env.CACHE.list({ prefix: `v1:revoked-session:${sid}` });
    expect(keys).toHaveLength(1);
    // KV drops the entry after the token's exp (plus a minute of clock slack), not before.
    expect(keys[0]?.expiration).toBeGreaterThanOrEqual(exp);
    expect(keys[0]?.expiration).toBeLessThanOrEqual(exp + 120);
    for (const path of ["/v1/videos", "/v1/home", "/v1/search?q=anything"]) {
      expect((await call(path, { token: viewer.accessToken })).status, path).toBe(401);
    }
  });

  it("ends the session on browse routes when a reused refresh token revokes it, too", async () => {
    const viewer = await signUp();
    const refreshed = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } });
    expect(refreshed.status).toBe(200);
    const { accessToken } = (await refreshed.json()) as { accessToken: string };
    advanceClock(REFRESH_GRACE_MS);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } })).status).toBe(401);
    expect((await call("/v1/videos", { token: accessToken })).status).toBe(401);
    expect((await call("/v1/videos", { token: viewer.accessToken })).status).toBe(401);
  });

  it("is still seen by browse routes while KV is down: they ask the user's object instead", async () => {
    const [live, gone] = [await signUp(), await signUp()];
    expect((await call("/v1/auth/signout", { method: "POST", token: gone.accessToken })).status).toBe(204);
    const broken = { env: { CACHE: brokenKv } };
    expect((await call("/v1/videos", { token: live.accessToken, ...broken })).status).toBe(200);
    expect((await call("/v1/videos", { token: gone.accessToken, ...broken })).status).toBe(401);
  });

  it("needs a token", async () => {
    const response = await call("/v1/auth/signout", { method: "POST" });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
  });
});

describe("GET /v1/me", () => {
  it("needs a bearer token", async () => {
    for (const headers of [
      {},
      { Authorization: "Basic dXNlcjpwYXNz" },
      { Authorization: "Bearer" },
      { Authorization: "Bearer not-a-jwt" },
    ] as Record<string, string>[]) {
      const response = await call("/v1/me", { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
      await problem(response);
    }
  });

  it("accepts the scheme in any case (RFC 6750 via RFC 9110: auth schemes are case-insensitive)", async () => {
    const viewer = await signUp();
    for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
      const response = await call("/v1/me", { headers: { Authorization: `${scheme} ${viewer.accessToken}` } });
      expect(response.status, scheme).toBe(200);
    }
  });
});

describe("GET /.well-known/jwks.json", () => {
  it("publishes the public verification keys with kid and no private part", async () => {
    const response = await call("/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Record<string, string>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(key.kid).toBeTruthy();
      expect(key.d).toBeUndefined();
    }
    const configured = JSON.parse(env.JWT_SIGNING_KEYS) as { keys: { kid: string }[] };
    expect(keys.map((key) => key.kid)).toEqual(configured.keys.map((key) => key.kid));
  });
});
