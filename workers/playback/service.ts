import type { StoredProgress } from "../../durable-objects/viewer-state.ts";
import { type MaturityRank, maturityRank } from "../../schema/index.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { sessionEnded } from "../platform/auth.ts";
import type { Entitlement } from "../platform/entitlement.ts";
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
import { fillSubscription, loadSubscription } from "../subscriptions/index.ts";
import { findVideo, getVideoDocument, isVideoId, notFound } from "../videos/index.ts";
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

/**
 * Whether a video is there to play, from the catalog's KV document (what browse reads; it exists
 * only for a listed video), else from the primary, which also tells 404 from 409 and sees a video
 * made ready a moment ago. A play whose document is in KV makes no query.
 */
async function videoState(services: Services, auth: AuthContext, videoId: string): Promise<{ state: string; maturityRank: MaturityRank }> {
  if (!isVideoId(videoId)) throw notFound(videoId);
  const document = await getVideoDocument(services, videoId);
  const found = document
    ? { state: "ready", maturityRank: maturityRank(document.maturityRating) }
    : await findVideo(services.db, videoId).then(
        (video) => video && { state: video.state, maturityRank: maturityRank(video.maturityRating) },
      );
  // Above the profile's ceiling: unknown, as on the title page (a 403 would say that it exists).
  if (!found || found.maturityRank > auth.maturityCeiling) throw notFound(videoId);
  return found;
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
  const { state } = await videoState(services, auth, videoId);
  if (!(await entitlementOf(services, auth))) throw noPlan();
  if (state !== "ready") throw notReady(state);
}

/**
 * `GET /v1/videos/{id}/play`: the video (KV), then one call to the user's object that checks the
 * session, the plan and its screens and takes (or moves) the session's screen lease; then signs a
 * manifest URL for this session, video and plan height. No query when the video's document is in
 * KV and the object holds the subscription's copy. Refusals: unknown 404, signed out 401, no plan
 * 402, not ready 409, no free screen 429 (unless `takeOver`, `POST`'s "watch here instead": the
 * object then ends the stream of another session that went longest without a heartbeat, and that
 * player is told why on its next request). `bandwidthEstimate`: the session's hint from its last release.
 */
export async function startPlayback(
  services: Services,
  auth: AuthContext,
  videoId: string,
  options: { takeOver?: boolean } = {},
): Promise<Playback> {
  const { state, maturityRank: rank } = await videoState(services, auth, videoId);
  if (state !== "ready") {
    // Nothing is taken for a video that cannot play; the plan's refusal still comes first.
    if (!(await entitlementOf(services, auth))) throw noPlan();
    throw notReady(state);
  }
  const { config } = services;
  const viewerState = services.viewerState(auth.userId);
  const request = {
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    // The object compares it with the profile's ceiling as it is now, not as the token says.
    maturityRank: rank,
    leaseMs: config.STREAM_LEASE_SECONDS * 1000,
    takeOver: options.takeOver ?? false,
  };
  let lease = await viewerState.startStream(request);
  if (!lease.granted && lease.refused === "not-copied") {
    lease = await viewerState.startStream({ ...request, fill: await loadSubscription(services, auth.userId) });
  }
  if (!lease.granted) {
    switch (lease.refused) {
      case "revoked":
        throw sessionEnded();
      case "maturity":
        throw notFound(videoId);
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
  input: { positionSeconds: number; durationSeconds?: number; country?: string | null },
  catalogOf: (videoId: string) => Promise<{ durationSeconds: number | null; upNext: string | null } | undefined>,
): Promise<StoredProgress> {
  if (!isVideoId(videoId)) throw notFound(videoId);
  const copy = continueWatchingCopy(services, auth.userId);
  const listed = await catalogOf(videoId);
  if (listed === undefined) throw notFound(videoId);
  const duration = listed.durationSeconds ?? input.durationSeconds ?? null;
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
    upNext: listed.upNext,
    country: input.country ?? null,
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
