import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { serialize } from "hono/utils/cookie";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import type { AuthTokens, RefreshTokenDelivery } from "./schema.ts";
import type { IssuedTokens } from "./service.ts";

/**
 * The refresh token in a cookie, for the web app (docs/api.md "Sessions in a browser"): a script
 * on the page can read neither it (`HttpOnly`) nor, since the body then leaves it out, a copy.
 * `Secure` (browsers count `http://localhost` as secure), `SameSite=Strict` (no other site's
 * page sends it), and sent only to the refresh route (`Path`). The `__Secure-` prefix makes a
 * browser refuse the name from a page that is not secure, so plain HTTP cannot plant one.
 * API clients that keep the token themselves send and receive it in the JSON body, as before.
 */
export const REFRESH_COOKIE = "__Secure-reelstream-refresh";
export const REFRESH_COOKIE_PATH = "/v1/auth/refresh";

function refreshCookie(value: string, maxAgeSeconds: number): string {
  return serialize(REFRESH_COOKIE, value, {
    path: REFRESH_COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: "Strict",
    maxAge: Math.max(0, maxAgeSeconds),
  });
}

/** A Set-Cookie that removes the refresh cookie (sign-out, a refresh the API refused). */
export const clearedRefreshCookie = (): string => refreshCookie("", 0);

/**
 * The answer's body for `issued`, delivered as asked: with the refresh token, or without it and
 * the token set as the cookie, for as long as the session lasts.
 */
export function deliverTokens(c: Context<AppEnv>, issued: IssuedTokens, delivery: RefreshTokenDelivery): AuthTokens {
  const { sessionExpiresAt, refreshToken, ...tokens } = issued;
  if (delivery === "body") return { ...tokens, refreshToken };
  const now = c.get("services").clock.now();
  c.header("Set-Cookie", refreshCookie(refreshToken, Math.floor((sessionExpiresAt - now) / 1000)));
  return tokens;
}

/**
 * The refresh token a refresh presents, and how its successor goes back: the body's, if it has
 * one (an API client), else the cookie's (the web app). Neither is a 401 that says so.
 */
export function presentedRefreshToken(
  c: Context<AppEnv>,
  bodyToken: string | undefined,
): { token: string; delivery: RefreshTokenDelivery } {
  if (bodyToken !== undefined) return { token: bodyToken, delivery: "body" };
  const cookie = getCookie(c, REFRESH_COOKIE);
  if (cookie) {
    // What a page of another site can send without asking first (a form, a plain fetch) is never JSON.
    if (!/^application\/json\s*(;|$)/i.test(c.req.header("Content-Type") ?? "")) {
      throw new ApiError(
        "unsupported-media-type",
        "Send the refresh as JSON (Content-Type: application/json), with an empty object as its body.",
      );
    }
    return { token: cookie, delivery: "cookie" };
  }
  throw new ApiError("unauthorized", "There is no session to refresh. Sign in.");
}

/** `error` (a refused refresh) with a Set-Cookie that removes the cookie the client sent. */
export function withClearedCookie(error: unknown): unknown {
  if (!(error instanceof ApiError) || error.status !== 401) return error;
  return new ApiError(error.code, error.detail, {
    ...error.options,
    headers: { ...error.options.headers, "Set-Cookie": clearedRefreshCookie() },
  });
}
