import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { jsonBodyLimitOf } from "../platform/body-limit.ts";
import { ApiError } from "../platform/errors.ts";
import { describeTokenFailure, isPreviewGrant, type MediaGrant, MediaTokenError, verifyMediaToken } from "../platform/media-token.ts";
import { problemResponses } from "../platform/openapi.ts";
import { enforceRateLimits } from "../platform/rate-limit.ts";
import type { Services } from "../platform/services.ts";
import { parseMediaPath } from "./media.ts";
import { qoeBeacon } from "./schema.ts";

/** A beacon is a few hundred bytes. */
export const QOE_BODY_LIMIT_BYTES = 4096;
/** wrangler.toml's QOE_LIMITER: 30 beacons a minute per account. */
const QOE_LIMIT_PERIOD_SECONDS = 60;

const route = createRoute({
  method: "post",
  path: "/v1/qoe",
  tags: ["Playback"],
  summary: "Player quality of experience: startup time, rebuffering, rendition switches, fatal errors",
  description:
    "A player sends what it measured at most every 10 s while playing, and once more when it closes, with navigator.sendBeacon. " +
    "No Authorization header (a beacon cannot carry one): the play's manifestUrl proves the play and names the account. " +
    "Rate limited per account (30 a minute); 429 with Retry-After beyond that. Stored as metrics only (docs/operations.md).",
  middleware: [jsonBodyLimitOf(QOE_BODY_LIMIT_BYTES)] as const,
  request: { body: { required: true, content: { "application/json": { schema: qoeBeacon } } } },
  responses: {
    204: { description: "Recorded" },
    ...problemResponses(400, 403, 413, 429),
  },
});

/** The play a beacon reports on, from its manifestUrl's signed token; 403 when it proves none. */
async function playOf(services: Services, manifestUrl: string): Promise<MediaGrant> {
  const refused = (detail: string) => new ApiError("forbidden", detail);
  let media: ReturnType<typeof parseMediaPath>;
  try {
    const { pathname } = new URL(manifestUrl);
    if (!pathname.startsWith("/media/")) throw new Error("not a media path");
    media = parseMediaPath(pathname);
  } catch {
    throw refused("manifestUrl is not a playback URL. Send the manifestUrl of the play, as GET /v1/videos/{id}/play gave it, unchanged.");
  }
  const { videoId, token } = media;
  try {
    const grant = await verifyMediaToken(services.config, videoId, token, Math.floor(services.clock.now() / 1000));
    if (isPreviewGrant(grant)) throw refused("A preview URL is not a play. Send the manifestUrl of the play.");
    return grant;
  } catch (error) {
    if (error instanceof MediaTokenError) throw refused(describeTokenFailure(error.reason));
    throw error;
  }
}

export function registerQoe(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const beacon = c.req.valid("json");
    const play = await playOf(services, beacon.manifestUrl);
    await enforceRateLimits([
      { limiter: services.rateLimiters.qoe, period: QOE_LIMIT_PERIOD_SECONDS, key: play.userId, subject: "this account" },
    ]);
    const cf = c.req.raw.cf;
    services.metrics.playerQoe({
      videoId: play.videoId,
      startupMs: beacon.startupMs,
      playingMs: beacon.playingMs,
      rebufferCount: beacon.rebufferCount,
      rebufferMs: beacon.rebufferMs,
      rungSwitches: beacon.rungSwitches,
      heightPx: beacon.heightPx,
      fatalError: beacon.fatalError,
      colo: String(cf?.colo ?? ""),
      country: String(cf?.country ?? ""),
    });
    return c.body(null, 204);
  });
}
