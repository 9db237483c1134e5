import type { StoredProgress } from "../../durable-objects/viewer-state.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { sessionEnded } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { MASTER_PLAYLIST_PATH } from "../platform/media-layout.ts";
import {
  describeTokenFailure,
  isPreviewGrant,
  type MediaGrant,
  MediaTokenError,
  signMediaToken,
  verifyMediaToken,
} from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import { type Entitlement, getEntitlement } from "../subscriptions/index.ts";
import { findVideo, isVideoId, notFound } from "../videos/index.ts";
import { CONTINUE_WATCHING_SIZE, continueWatchingCopy } from "./continue-watching.ts";
import { isFinished, resumePosition } from "./progress-rules.ts";

export interface Playback {
  manifestUrl: string;
  expiresAt: string;
  resumeAt: number;
  maxHeight: number;
  streamToken: string;
  bandwidthEstimate: number | null;
}

/** The entitlement reader playback depends on (the subscription service's, in production). */
export type EntitlementReader = (services: Services, userId: string) => Promise<Entitlement | null>;

export const entitlementFromSubscriptions: EntitlementReader = (services, userId) =>
  getEntitlement(services.db, userId, new Date(services.clock.now()));

/**
 * The checks of `GET /v1/videos/{id}/play` that change nothing: the video and the plan.
 * Order of refusals: unknown video 404, no plan 402, not ready 409. `HEAD` stops here.
 */
export async function checkPlayable(
  services: Services,
  auth: AuthContext,
  videoId: string,
  entitlementOf: EntitlementReader,
): Promise<Entitlement> {
  if (!isVideoId(videoId)) throw notFound(videoId);
  const [found, entitlement] = await Promise.all([findVideo(services.readDb, videoId), entitlementOf(services, auth.userId)]);
  // A replica a moment behind may not have the video yet, or not as ready: the primary decides.
  const video = found?.state === "ready" ? found : await findVideo(services.db, videoId);
  if (!video) throw notFound(videoId);
  if (!entitlement) {
    throw new ApiError("payment-required", "Playing videos needs an active subscription (POST /v1/subscription).");
  }
  if (video.state !== "ready") {
    throw new ApiError("conflict", `This video cannot be played yet: it is ${video.state}. Try again when it is ready.`);
  }
  return entitlement;
}

/**
 * `GET /v1/videos/{id}/play`: `checkPlayable`, then takes (or moves) the session's screen lease,
 * checking the session in the same call to the user's object, and signs a manifest URL for this
 * session, video and plan height. After the checks of `checkPlayable`: signed out 401, no free screen 429
 * (unless `takeOver`: "watch here instead" ends the stream of another session that went longest
 * without a heartbeat, whose player is told why on its next request).
 */
export async function startPlayback(
  services: Services,
  auth: AuthContext,
  videoId: string,
  entitlementOf: EntitlementReader,
  options: { takeOver?: boolean } = {},
): Promise<Playback> {
  const entitlement = await checkPlayable(services, auth, videoId, entitlementOf);
  const { config } = services;
  const lease = await services.viewerState(auth.userId).startStream({
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    screens: entitlement.screens,
    leaseMs: config.STREAM_LEASE_SECONDS * 1000,
    takeOver: options.takeOver ?? false,
  });
  if ("revoked" in lease) throw sessionEnded();
  if (!lease.granted) {
    const retryAfter = Math.max(1, Math.ceil(lease.retryAfterMs / 1000));
    throw new ApiError(
      "too-many-requests",
      `Your plan allows ${entitlement.screens} screen${entitlement.screens === 1 ? "" : "s"} at a time and ${lease.inUse} ${lease.inUse === 1 ? "is" : "are"} in use. Stop playback on another device, or try again in ${retryAfter} s when an idle one is released.`,
      { headers: { "Retry-After": String(retryAfter) }, title: "All screens of the plan are in use" },
    );
  }
  const now = Math.floor(services.clock.now() / 1000);
  let expiresAt = now + config.MEDIA_TOKEN_TTL_SECONDS;
  // A canceled plan stops entitling at the end of its period: no URL outlives it.
  if (entitlement.status !== "active") expiresAt = Math.min(expiresAt, Math.floor(entitlement.currentPeriodEnd.getTime() / 1000));
  const token = await signMediaToken(config, {
    videoId,
    userId: auth.userId,
    sessionId: auth.sessionId,
    leaseId: lease.leaseId,
    maxHeight: entitlement.maxHeight,
    expiresAt,
  });
  return {
    manifestUrl: `${config.PUBLIC_BASE_URL}/media/${videoId}/${token}/${MASTER_PLAYLIST_PATH}`,
    expiresAt: new Date(expiresAt * 1000).toISOString(),
    resumeAt: resumePosition(lease.progress),
    maxHeight: entitlement.maxHeight,
    streamToken: token,
    bandwidthEstimate: lease.bandwidthEstimate,
  };
}

/**
 * `POST /v1/videos/{id}/play/release`: the player stopped. The stream token is the credential (a
 * page being closed cannot refresh an access token or set a header: `navigator.sendBeacon`), so it
 * must verify for this video; an expired one still releases (its lease may outlive it by seconds).
 * Idempotent: releasing a stream that already ended changes nothing.
 */
export async function releasePlayback(
  services: Services,
  videoId: string,
  input: { streamToken: string; bandwidthEstimate?: number },
): Promise<void> {
  let grant: MediaGrant;
  try {
    // Verified as of its own expiry: release is allowed for a token that expired a moment ago.
    grant = await verifyMediaToken(services.config, videoId, input.streamToken, 0);
  } catch (error) {
    if (error instanceof MediaTokenError)
      throw new ApiError("forbidden", `This stream token is not valid: ${describeTokenFailure(error.reason)}`);
    throw error;
  }
  if (isPreviewGrant(grant)) throw new ApiError("forbidden", "A preview token names no stream.");
  await services.viewerState(grant.userId).releaseStream({
    sessionId: grant.sessionId,
    leaseId: grant.leaseId,
    bandwidthEstimate: input.bandwidthEstimate,
  });
}

/**
 * A progress heartbeat: the video must be listed; a position beyond its duration is refused.
 * The catalog's duration wins over the player's when it has one. One call to the user's object
 * checks the session, stores the position, renews the lease and answers the continue-watching
 * row; the row's KV copy (read in the same KV call as the video's document) is rewritten before
 * the answer when it differs (continue-watching.ts), so the viewer's next `/v1/home` shows it.
 */
export async function recordProgress(
  services: Services,
  auth: AuthContext,
  videoId: string,
  input: { positionSeconds: number; durationSeconds?: number },
  durationOf: (videoId: string) => Promise<number | null | undefined>,
): Promise<StoredProgress> {
  if (!isVideoId(videoId)) throw notFound(videoId);
  const copy = continueWatchingCopy(services, auth.userId);
  const catalogDuration = await durationOf(videoId);
  if (catalogDuration === undefined) throw notFound(videoId);
  const duration = catalogDuration ?? input.durationSeconds ?? null;
  // Players report the last frame's timestamp, which may pass the container's duration by a frame.
  if (duration !== null && input.positionSeconds > duration + 1) {
    throw new ApiError("validation", `positionSeconds (${input.positionSeconds}) is beyond the end of the video (${duration} s).`, {
      errors: [{ path: "positionSeconds", message: `Must be at most the video's duration, ${duration} seconds.` }],
    });
  }
  const positionSeconds = duration === null ? input.positionSeconds : Math.min(input.positionSeconds, duration);
  const result = await services.viewerState(auth.userId).recordProgress({
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    positionSeconds,
    durationSeconds: duration,
    finished: isFinished(positionSeconds, duration),
    leaseMs: services.config.STREAM_LEASE_SECONDS * 1000,
    flushDelayMs: services.config.PROGRESS_FLUSH_SECONDS * 1000,
    continueWatchingSize: CONTINUE_WATCHING_SIZE,
  });
  if (result.revoked) throw sessionEnded();
  await copy.update(result.continueWatching);
  if (result.takenOver) {
    throw new ApiError(
      "stream-taken-over",
      "The position was stored, but this session's stream was ended: another device of the account chose to watch there while every screen was in use. Play again to watch here (GET or POST /v1/videos/{id}/play).",
    );
  }
  return result.progress;
}
