import type { StoredProgress } from "../../durable-objects/viewer-state.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { sessionEnded } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { MASTER_PLAYLIST_PATH } from "../platform/media-layout.ts";
import { signMediaToken } from "../platform/media-token.ts";
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
    throw new ApiError("payment-required", "Playing videos needs an active subscription. Choose a plan with POST /v1/subscription.");
  }
  if (video.state !== "ready") {
    throw new ApiError("conflict", `This video cannot be played yet: it is ${video.state}. Try again when it is ready.`);
  }
  return entitlement;
}

/**
 * `GET /v1/videos/{id}/play`: `checkPlayable`, then takes (or moves) the session's screen lease,
 * checking the session in the same call to the user's object, and signs a manifest URL for this
 * session, video and plan height. After the checks of `checkPlayable`: signed out 401, no free screen 429.
 */
export async function startPlayback(
  services: Services,
  auth: AuthContext,
  videoId: string,
  entitlementOf: EntitlementReader,
): Promise<Playback> {
  const entitlement = await checkPlayable(services, auth, videoId, entitlementOf);
  const { config } = services;
  const lease = await services.viewerState(auth.userId).startStream({
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    screens: entitlement.screens,
    leaseMs: config.STREAM_LEASE_SECONDS * 1000,
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
  };
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
  return result.progress;
}
