import type { StoredProgress } from "../../durable-objects/viewer-state.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { sessionEnded } from "../platform/auth.ts";
import type { Entitlement } from "../platform/entitlement.ts";
import { ApiError } from "../platform/errors.ts";
import { MASTER_PLAYLIST_PATH } from "../platform/media-layout.ts";
import { signMediaToken } from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import { fillSubscription, loadSubscription } from "../subscriptions/index.ts";
import { findVideo, getVideoDocument, isVideoId, notFound } from "../videos/index.ts";
import { CONTINUE_WATCHING_SIZE, continueWatchingCopy } from "./continue-watching.ts";
import { isFinished, resumePosition } from "./progress-rules.ts";

export interface Playback {
  manifestUrl: string;
  expiresAt: string;
  resumeAt: number;
  maxHeight: number;
}

/**
 * Whether a video is there to play, from the catalog's KV document (what browse reads; it exists
 * only for a listed video), else from the primary, which also tells 404 from 409 and sees a video
 * made ready a moment ago. A play whose document is in KV makes no query.
 */
async function videoState(services: Services, videoId: string): Promise<string> {
  if (!isVideoId(videoId)) throw notFound(videoId);
  if (await getVideoDocument(services, videoId)) return "ready";
  const video = await findVideo(services.db, videoId);
  if (!video) throw notFound(videoId);
  return video.state;
}

function noPlan(): ApiError {
  return new ApiError("payment-required", "Playing videos needs an active subscription. Choose a plan with POST /v1/subscription.");
}

function notReady(state: string): ApiError {
  return new ApiError("conflict", `This video cannot be played yet: it is ${state}. Try again when it is ready.`);
}

/**
 * The user's entitlement for checks that take nothing: from the user's object, which is filled
 * from Postgres when it holds no copy yet (an account from before the copies existed).
 */
async function entitlementOf(services: Services, auth: AuthContext): Promise<Entitlement | null> {
  const viewerState = services.viewerState(auth.userId);
  let answer = await viewerState.readEntitlement(auth.sessionId);
  if (!answer.revoked && !answer.copied) {
    await fillSubscription(services, auth.userId);
    answer = await viewerState.readEntitlement(auth.sessionId);
  }
  if (answer.revoked) throw sessionEnded();
  return answer.copied ? answer.entitlement : null;
}

/**
 * The checks of `GET /v1/videos/{id}/play` that change nothing: the video and the plan.
 * Order of refusals: unknown video 404, no plan 402, not ready 409. `HEAD` stops here.
 */
export async function checkPlayable(services: Services, auth: AuthContext, videoId: string): Promise<void> {
  const state = await videoState(services, videoId);
  if (!(await entitlementOf(services, auth))) throw noPlan();
  if (state !== "ready") throw notReady(state);
}

/**
 * `GET /v1/videos/{id}/play`: the video (KV), then one call to the user's object that checks the
 * session, the plan and its screens and takes (or moves) the session's screen lease; then signs a
 * manifest URL for this session, video and plan height. No query when the video's document is in
 * KV and the object holds the subscription's copy. Refusals: unknown 404, signed out 401, no plan
 * 402, not ready 409, no free screen 429.
 */
export async function startPlayback(services: Services, auth: AuthContext, videoId: string): Promise<Playback> {
  const state = await videoState(services, videoId);
  if (state !== "ready") {
    // Nothing is taken for a video that cannot play; the plan's refusal still comes first.
    if (!(await entitlementOf(services, auth))) throw noPlan();
    throw notReady(state);
  }
  const { config } = services;
  const viewerState = services.viewerState(auth.userId);
  const request = { userId: auth.userId, sessionId: auth.sessionId, videoId, leaseMs: config.STREAM_LEASE_SECONDS * 1000 };
  let lease = await viewerState.startStream(request);
  if (!lease.granted && lease.refused === "not-copied") {
    lease = await viewerState.startStream({ ...request, fill: await loadSubscription(services, auth.userId) });
  }
  if (!lease.granted) {
    switch (lease.refused) {
      case "revoked":
        throw sessionEnded();
      case "screens": {
        const retryAfter = Math.max(1, Math.ceil(lease.retryAfterMs / 1000));
        throw new ApiError(
          "too-many-requests",
          `Your plan allows ${lease.screens} screen${lease.screens === 1 ? "" : "s"} at a time and ${lease.inUse} ${lease.inUse === 1 ? "is" : "are"} in use. Stop playback on another device, or try again in ${retryAfter} s when an idle one is released.`,
          { headers: { "Retry-After": String(retryAfter) }, title: "All screens of the plan are in use" },
        );
      }
      default:
        throw noPlan();
    }
  }
  const { entitlement } = lease;
  const now = Math.floor(services.clock.now() / 1000);
  let expiresAt = now + config.MEDIA_TOKEN_TTL_SECONDS;
  // A canceled plan stops entitling at the end of its period: no URL outlives it.
  if (entitlement.status !== "active") expiresAt = Math.min(expiresAt, Math.floor(entitlement.currentPeriodEnd / 1000));
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
