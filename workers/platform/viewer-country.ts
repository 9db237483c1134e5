/**
 * The viewer's country as Cloudflare's edge saw it (`request.cf.country`, ISO 3166-1 alpha-2), or
 * null when it did not say: `XX` (unknown), `T1` (Tor), a request from outside the edge (a test,
 * a local run without it). Heartbeats copy it behind for "Top 10 in <country>"; the home page picks
 * that row with it.
 *
 * @example
 * const country = viewerCountry(c.req.raw); // "DE"
 */
export function viewerCountry(request: Request): string | null {
  const country = (request.cf as { country?: unknown } | undefined)?.country;
  return typeof country === "string" && /^[A-Z]{2}$/.test(country) && country !== "XX" ? country : null;
}
