import { describe, expect, it } from "vitest";
import { problemOf } from "../test/catalog.ts";
import { call, type SignedIn, signUp, strongPassword, uniqueEmail } from "../test/helpers.ts";
import { REFRESH_COOKIE, REFRESH_COOKIE_PATH } from "./refresh-cookie.ts";

/** The refresh cookie an answer sets: its value and attributes, or undefined. */
function refreshCookieOf(response: Response): { value: string; attributes: string[] } | undefined {
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith(`${REFRESH_COOKIE}=`));
  if (!cookie) return undefined;
  const [pair = "", ...attributes] = cookie.split(";").map((part) => part.trim());
  return { value: decodeURIComponent(pair.slice(REFRESH_COOKIE.length + 1)), attributes };
}

/** The cookie's Max-Age in seconds. */
const maxAgeOf = (cookie: { attributes: string[] } | undefined) =>
  Number(cookie?.attributes.find((attribute) => attribute.startsWith("Max-Age="))?.slice("Max-Age=".length));

/** A refresh as the web app sends it: an empty JSON object, the token in the cookie. */
const refreshWithCookie = (token: string, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
  call("/v1/auth/refresh", { method: "POST", body: "{}", headers: { ...headers, Cookie: `${REFRESH_COOKIE}=${token}` } });

async function signInWithCookie(): Promise<{ response: Response; body: Partial<SignedIn>; cookie: string }> {
  const viewer = await signUp();
  const response = await call("/v1/auth/signin", {
    method: "POST",
    json: { email: viewer.user.email, password: strongPassword, refreshTokenIn: "cookie" },
  });
  expect(response.status).toBe(200);
  const cookie = refreshCookieOf(response)?.value;
  if (!cookie) throw new Error("no refresh cookie");
  return { response, body: (await response.json()) as Partial<SignedIn>, cookie };
}

describe("the refresh token in an HttpOnly cookie (refreshTokenIn: cookie)", () => {
  it("sets it HttpOnly, Secure, SameSite=Strict, for the refresh path only, for the session's 30 days, and leaves it out of the body", async () => {
    const { response, body } = await signInWithCookie();
    const cookie = refreshCookieOf(response);
    expect(cookie?.value).toMatch(/^rsr_/);
    expect(cookie?.attributes).toEqual(expect.arrayContaining(["HttpOnly", "Secure", "SameSite=Strict", `Path=${REFRESH_COOKIE_PATH}`]));
    // The session's 30 days (REFRESH_TOKEN_TTL_SECONDS), less the moments since it opened.
    expect(maxAgeOf(cookie)).toBeLessThanOrEqual(2592000);
    expect(maxAgeOf(cookie)).toBeGreaterThan(2592000 - 60);
    expect(body.refreshToken).toBeUndefined();
    expect(body.accessToken).toBeTypeOf("string");
    expect((await call("/v1/me", { token: body.accessToken })).status).toBe(200);

    const signup = await call("/v1/auth/signup", {
      method: "POST",
      json: { email: uniqueEmail(), password: strongPassword, name: "Ada", refreshTokenIn: "cookie" },
    });
    expect(signup.status).toBe(201);
    expect(refreshCookieOf(signup)?.value).toMatch(/^rsr_/);
    expect(((await signup.json()) as Partial<SignedIn>).refreshToken).toBeUndefined();
  });

  it("refreshes with the cookie and an empty JSON body, sets the successor, and keeps the session's end", async () => {
    const { cookie } = await signInWithCookie();
    const refreshed = await refreshWithCookie(cookie);
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as Partial<SignedIn>;
    expect(body.refreshToken).toBeUndefined();
    expect((await call("/v1/me", { token: body.accessToken })).status).toBe(200);
    const next = refreshCookieOf(refreshed);
    expect(next?.value).toMatch(/^rsr_/);
    expect(next?.value).not.toBe(cookie);
    // Rotation never extends the session: the cookie lives until the session's end, not 30 days from now.
    const maxAge = maxAgeOf(next);
    expect(maxAge).toBeLessThanOrEqual(2592000);
    expect(maxAge).toBeGreaterThan(2592000 - 120);
    expect((await refreshWithCookie(next?.value ?? "")).status).toBe(200);
  });

  it("refuses a refresh with the cookie that is not JSON (what another site's form could send), spending nothing", async () => {
    const { cookie } = await signInWithCookie();
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const refused = await refreshWithCookie(cookie, { "Content-Type": contentType });
      expect(refused.status, contentType).toBe(415);
      expect(refreshCookieOf(refused), contentType).toBeUndefined();
    }
    expect((await refreshWithCookie(cookie)).status).toBe(200);
  });

  it("removes the cookie on sign-out and when a refresh is refused", async () => {
    const { body, cookie } = await signInWithCookie();
    const signout = await call("/v1/auth/signout", { method: "POST", token: body.accessToken });
    expect(signout.status).toBe(204);
    expect(refreshCookieOf(signout)).toMatchObject({
      value: "",
      attributes: expect.arrayContaining([`Path=${REFRESH_COOKIE_PATH}`, "Max-Age=0"]),
    });
    const refused = await refreshWithCookie(cookie);
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).detail).toMatch(/Sign in again/);
    expect(refreshCookieOf(refused)?.attributes).toContain("Max-Age=0");
  });

  it("keeps API clients on the body: no cookie unless asked, and a body token wins over a cookie", async () => {
    const viewer = await signUp();
    const signin = await call("/v1/auth/signin", { method: "POST", json: { email: viewer.user.email, password: strongPassword } });
    expect(refreshCookieOf(signin)).toBeUndefined();
    const tokens = (await signin.json()) as SignedIn;
    expect(tokens.refreshToken).toMatch(/^rsr_/);
    const refreshed = await call("/v1/auth/refresh", {
      method: "POST",
      json: { refreshToken: tokens.refreshToken },
      headers: { Cookie: `${REFRESH_COOKIE}=rsr_not-this-one` },
    });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as SignedIn).refreshToken).toMatch(/^rsr_/);
    expect(refreshCookieOf(refreshed)).toBeUndefined();
  });
});
