import type { Context, Hono } from "hono";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import { describeTokenFailure, isPreviewGrant, type MediaGrant, MediaTokenError, verifyMediaToken } from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import { isVideoId } from "../videos/index.ts";
import { capMasterPlaylist, carryToken, forbiddenFolders, masterVariants, type Variant } from "./hls-playlist.ts";
import { mediaType, PLAYLIST_EDGE_TTL_SECONDS, readMediaText, serveMediaObject } from "./media-delivery.ts";

/** Where a video's HLS ladder lives below its media prefix (agreed with the transcoder). */
export const HLS_FOLDER = "hls/";
export const MASTER_PLAYLIST = `${HLS_FOLDER}master.m3u8`;

/** Segments may skip the session check for this long per isolate; playlists never do (README "Playback"). */
export const SEGMENT_SESSION_CHECK_SECONDS = 20;

const sessionChecks = new Map<string, { revoked: boolean; until: number }>();
const ladderMemo = new Map<string, { variants: Variant[]; until: number }>();

export const corsHeaders = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag, Accept-Ranges, X-Media-Cache",
};

/**
 * The media space: `GET|HEAD /media/{videoId}/{token}/{path}` serves R2 key `videos/{videoId}/{path}`.
 * Everything is answered only with a valid token for that video: a viewer's (from play) or a
 * preview token (the catalog's poster and storyboard URLs, see `signPreviewToken`); anything else is
 * 403 problem+json (with CORS headers, so a player on another origin can read it).
 */
export function registerMedia(app: Hono<AppEnv>) {
  app.use("/media/*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(corsHeaders)) c.res.headers.set(name, value);
  });
  app.options("/media/*", () => {
    return new Response(null, {
      status: 204,
      headers: {
        ...corsHeaders,
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since",
        "Access-Control-Max-Age": "86400",
      },
    });
  });
  app.on(["GET", "HEAD"], "/media/*", serveMedia);
}

function refuse(detail: string): ApiError {
  return new ApiError("forbidden", detail, { headers: { "Cache-Control": "no-store" } });
}

/** Splits `/media/{videoId}/{token}/{path}`; every segment decoded, none of them `.`, `..` or empty. */
function parseMediaPath(pathname: string): { videoId: string; token: string | undefined; path: string } {
  const segments = pathname.split("/").slice(2);
  const decoded = segments.map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return "";
    }
  });
  const [videoId = "", token, ...rest] = decoded;
  if (rest.some((segment) => segment === "" || segment === "." || segment === ".." || segment.includes("/") || segment.includes("\\"))) {
    throw new ApiError("not-found", `There is nothing at ${pathname}.`);
  }
  // Without a signature segment, the "token" is the first part of the object path.
  if (!token?.startsWith("v1.")) return { videoId, token: undefined, path: [token, ...rest].filter(Boolean).join("/") };
  return { videoId, token, path: rest.join("/") };
}

async function sessionRevoked(services: Services, grant: MediaGrant, cached: boolean): Promise<boolean> {
  const key = `${grant.userId}:${grant.sessionId}`;
  const now = Date.now();
  const known = sessionChecks.get(key);
  if (cached && known && known.until > now) return known.revoked;
  const revoked = await services.viewerState(grant.userId).isSessionRevoked(grant.sessionId);
  if (sessionChecks.size > 10_000) sessionChecks.clear();
  sessionChecks.set(key, { revoked, until: now + SEGMENT_SESSION_CHECK_SECONDS * 1000 });
  return revoked;
}

async function ladderOf(c: Context<AppEnv>, services: Services, videoId: string): Promise<Variant[] | null> {
  const now = Date.now();
  const known = ladderMemo.get(videoId);
  if (known && known.until > now) return known.variants;
  const master = await readMediaText(
    c.req.url,
    services.media.bucket,
    `videos/${videoId}/${MASTER_PLAYLIST}`,
    "application/vnd.apple.mpegurl",
    services.waitUntil,
  );
  if (master === null) return null;
  const variants = masterVariants(master);
  if (ladderMemo.size > 10_000) ladderMemo.clear();
  ladderMemo.set(videoId, { variants, until: now + PLAYLIST_EDGE_TTL_SECONDS * 1000 });
  return variants;
}

/** Posters, storyboard sprites and their WebVTT (images and text tracks): no video bytes, wherever they lie. */
function isPreview(kind: string | undefined): boolean {
  return kind === "image" || kind === "text-track";
}

async function serveMedia(c: Context<AppEnv>): Promise<Response> {
  const { videoId, token, path } = parseMediaPath(c.req.path);
  const services = c.get("services");
  const { config } = services;
  let grant: MediaGrant;
  try {
    grant = await verifyMediaToken(config, videoId, token);
  } catch (error) {
    if (error instanceof MediaTokenError) throw refuse(describeTokenFailure(error.reason));
    throw error;
  }
  const type = mediaType(path);
  const inLadder = path.startsWith(HLS_FOLDER);
  // A preview grant (the catalog's poster and storyboard URLs) opens previews and nothing else.
  if (isPreviewGrant(grant) && !isPreview(type?.kind)) {
    throw refuse("This URL only opens the video's poster and storyboard. Ask for a playback URL with GET /v1/videos/{id}/play.");
  }
  // Video bytes only inside the ladder: the uploaded source next to it is never served.
  if (!isVideoId(videoId) || !type || (!inLadder && (type.kind === "segment" || type.kind === "playlist"))) {
    throw new ApiError("not-found", `There is no media object '${path}' for this video.`);
  }
  if (!isPreviewGrant(grant) && (await sessionRevoked(services, grant, type.kind !== "playlist"))) {
    throw refuse("The session this media URL was issued to has signed out. Sign in and ask for a new one with GET /v1/videos/{id}/play.");
  }
  const key = `videos/${videoId}/${path}`;
  const { waitUntil } = services;
  const bucket = services.media.bucket;

  if (inLadder && path !== MASTER_PLAYLIST) {
    const variants = await ladderOf(c, services, videoId);
    const within = path.slice(HLS_FOLDER.length);
    if (variants && forbiddenFolders(variants, grant.maxHeight).some((folder) => within.startsWith(folder))) {
      throw refuse(`This rendition is taller than your plan allows (${grant.maxHeight}p). Upgrade your plan to watch it.`);
    }
  }

  if (type.kind === "playlist") {
    const original = await readMediaText(c.req.url, bucket, key, type.contentType, waitUntil);
    if (original === null) throw new ApiError("not-found", `There is no playlist '${path}' for this video.`);
    const body = carryToken(path === MASTER_PLAYLIST ? capMasterPlaylist(original, grant.maxHeight) : original, videoId, token ?? "");
    const maxAge = Math.max(0, Math.min(PLAYLIST_EDGE_TTL_SECONDS, grant.expiresAt - Math.floor(Date.now() / 1000)));
    // Per viewer (capped to the plan, bound to the token): private, and short.
    return new Response(c.req.method === "HEAD" ? null : body, {
      headers: {
        "Content-Type": type.contentType,
        "Cache-Control": `private, max-age=${maxAge}`,
        "Content-Length": String(new TextEncoder().encode(body).byteLength),
      },
    });
  }
  const response = await serveMediaObject(c.req.raw, bucket, key, type.kind, type.contentType, waitUntil);
  if (!response) throw new ApiError("not-found", `There is no media object '${path}' for this video.`);
  return response;
}
