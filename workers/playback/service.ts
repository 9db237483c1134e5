import { and, desc, eq, sql } from "drizzle-orm";
import type { StoredProgress } from "../../durable-objects/viewer-state.ts";
import { videos, watchProgress } from "../../schema/index.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import { signMediaToken } from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import { type Entitlement, getEntitlement } from "../subscriptions/index.ts";
import type { VideoSummary } from "../videos/index.ts";
import { findVideo, isVideoId, notFound, toVideoSummary } from "../videos/index.ts";
import { MASTER_PLAYLIST } from "./media.ts";
import { isFinished, resumePosition } from "./progress-rules.ts";

export interface Playback {
  manifestUrl: string;
  expiresAt: string;
  resumeAt: number;
  maxHeight: number;
}

/** The entitlement reader playback depends on (the subscription service's, in production). */
export type EntitlementReader = (services: Services, userId: string) => Promise<Entitlement | null>;

export const entitlementFromSubscriptions: EntitlementReader = (services, userId) => getEntitlement(services.db, userId);

/**
 * `GET /v1/videos/{id}/play`: checks the video and the plan, takes (or moves) the session's
 * screen lease, and signs a manifest URL for this session, video and plan height.
 * Order of refusals: unknown video 404, no plan 402, not ready 409, no free screen 429.
 */
export async function startPlayback(
  services: Services,
  auth: AuthContext,
  videoId: string,
  entitlementOf: EntitlementReader,
): Promise<Playback> {
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
  const { config } = services;
  const lease = await services.viewerState(auth.userId).startStream({
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    screens: entitlement.screens,
    leaseMs: config.STREAM_LEASE_SECONDS * 1000,
  });
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
    maxHeight: entitlement.maxHeight,
    expiresAt,
  });
  return {
    manifestUrl: `${config.PUBLIC_BASE_URL}/media/${videoId}/${token}/${MASTER_PLAYLIST}`,
    expiresAt: new Date(expiresAt * 1000).toISOString(),
    resumeAt: resumePosition(lease.progress),
    maxHeight: entitlement.maxHeight,
  };
}

/**
 * A progress heartbeat: the video must be listed; a position beyond its duration is refused.
 * The catalog's duration wins over the player's when it has one.
 */
export async function recordProgress(
  services: Services,
  auth: AuthContext,
  videoId: string,
  input: { positionSeconds: number; durationSeconds?: number },
  durationOf: (videoId: string) => Promise<number | null | undefined>,
): Promise<StoredProgress> {
  if (!isVideoId(videoId)) throw notFound(videoId);
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
  return services.viewerState(auth.userId).recordProgress({
    userId: auth.userId,
    sessionId: auth.sessionId,
    videoId,
    positionSeconds,
    durationSeconds: duration,
    finished: isFinished(positionSeconds, duration),
    leaseMs: services.config.STREAM_LEASE_SECONDS * 1000,
    flushDelayMs: services.config.PROGRESS_FLUSH_SECONDS * 1000,
  });
}

const CONTINUE_WATCHING_SIZE = 20;

/**
 * The home page's `continue-watching` row (the videos service's `ContinueWatchingReader`): listed
 * titles the user started and has not finished, most recent first, from `watch_progress`, which
 * lags the player by at most one flush of the user's Durable Object.
 */
export async function continueWatching(services: Services, userId: string): Promise<VideoSummary[]> {
  const rows = await services.readDb
    .select({ video: videos })
    .from(watchProgress)
    .innerJoin(videos, eq(videos.id, watchProgress.videoId))
    .where(and(eq(watchProgress.userId, userId), sql`not ${watchProgress.finished}`, eq(videos.state, "ready")))
    .orderBy(desc(watchProgress.updatedAt))
    .limit(CONTINUE_WATCHING_SIZE);
  return Promise.all(rows.map((row) => toVideoSummary(services.config, row.video)));
}
