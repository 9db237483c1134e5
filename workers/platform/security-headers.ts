import type { MiddlewareHandler } from "hono";

/**
 * The security headers of every response (docs/threat-model.md, finding 2 of issue 21): one
 * source for the Worker's answers (`securityHeaders`) and for the web app's files, which Workers
 * Static Assets serves without running the Worker (`npm run build` writes them into `_headers`:
 * web/vite.config.ts).
 */

/**
 * The web app's policy. No inline script and no `eval`: Vite's build has neither. hls.js plays
 * through MediaSource (`blob:` media URLs) and runs its demuxer in a worker made from a `blob:`
 * URL; posters, storyboards and media come from this origin (`/media/…`). Preact sets styles
 * through the CSSOM, which `style-src` does not govern. Only this origin may frame it: nobody.
 */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The API's answers are data, never a page: they may load nothing and be framed by no one. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'";

/** What every response carries besides its policy. */
export const COMMON_SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  // Media URLs carry their token in the path; no page of ours tells another site where it came from.
  "Referrer-Policy": "no-referrer",
  // The player uses full screen, picture-in-picture and autoplay; nothing asks for sensors, camera or payment.
  "Permissions-Policy":
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), " +
    "autoplay=(self), fullscreen=(self), picture-in-picture=(self)",
  // For browsers older than `frame-ancestors`.
  "X-Frame-Options": "DENY",
} as const;

/** The headers of the web app's files (`_headers`), its policy included. */
export const WEB_APP_HEADERS: Record<string, string> = { ...COMMON_SECURITY_HEADERS, "Content-Security-Policy": WEB_APP_CSP };

/**
 * Sets the security headers on every answer of the Worker. A route that serves a page with a
 * policy of its own (`/docs`: workers/platform/api-reference.ts) keeps it; every other answer
 * gets `API_CSP`.
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) c.header(name, value);
    if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", API_CSP);
  };
}
