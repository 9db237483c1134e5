import type { Context, Hono } from "hono";
import type { AppEnv } from "../platform/app-env.ts";
import { ApiError } from "../platform/errors.ts";
import { HLS_FOLDER, MASTER_PLAYLIST_PATH, masterPlaylistKey, mediaPrefix } from "../platform/media-layout.ts";
import {
  describeTokenFailure,
  isPreviewGrant,
  looksLikeMediaToken,
  type MediaGrant,
  MediaTokenError,
  verifyMediaToken,
} from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import { isVideoId } from "../videos/index.ts";
import { capMasterPlaylist, carryToken, folderAccess, ownMediaPlaylist } from "./hls-playlist.ts";
import { cacheApiDelivery, type MediaDelivery, mediaType, workersCacheDelivery } from "./media-delivery.ts";
import { StreamChecks } from "./stream-check.ts";

const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";

/** This isolate's memory of stream checks (segments reuse an answer for at most 20 s; see StreamChecks). */
const streamChecks = new StreamChecks();

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
export function parseMediaPath(pathname: string): { videoId: string; token: string | undefined; path: string } {
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
  if (!looksLikeMediaToken(token)) return { videoId, token: undefined, path: [token, ...rest].filter(Boolean).join("/") };
  return { videoId, token, path: rest.join("/") };
}

/**
 * What a player is told when its stream may no longer be served: 403 problem+json whose `code`
 * says why (the web app words each one; hls.js and the web app ask play again only for `stream-ended`).
 */
function streamRefusal(status: "replaced" | "ended" | "taken-over" | "revoked", leaseSeconds: number): ApiError {
  const headers = { "Cache-Control": "no-store" };
  switch (status) {
    case "revoked":
      return refuse(
        "The session this media URL was issued to has signed out. Sign in and ask for a new one with GET /v1/videos/{id}/play.",
      );
    case "replaced":
      return new ApiError(
        "stream-replaced",
        "This device started playing something else, so this stream's screen moved there. Press play again to watch this title (GET /v1/videos/{id}/play).",
        { headers },
      );
    case "taken-over":
      return new ApiError(
        "stream-taken-over",
        "Another session of the account took this stream's screen while every screen of the plan was in use (POST /v1/videos/{id}/play). Play again to watch here.",
        { headers },
      );
    case "ended":
      return new ApiError(
        "stream-ended",
        `This stream's screen was released: the player sent no progress for ${leaseSeconds} seconds, stopped, or the plan changed. Press play again to continue (GET /v1/videos/{id}/play).`,
        { headers },
      );
  }
}

/**
 * Whether the stream may be served: its screen lease must be the session's current one and live
 * (issue 15.2), and the session not signed out. Playlists ask the user's `ViewerState` every time;
 * segments reuse an answer for at most 20 s per isolate, so the edge does not call the object on
 * every segment.
 */
async function requireLiveStream(services: Services, grant: MediaGrant, isPlaylist: boolean): Promise<void> {
  const status = await streamChecks.status(grant, { reuse: !isPlaylist, now: services.clock.now() }, () =>
    services.viewerState(grant.userId).streamStatus(grant.sessionId, grant.leaseId),
  );
  if (status.status !== "live") throw streamRefusal(status.status, services.config.STREAM_LEASE_SECONDS);
}

/** Posters, storyboard sprites and their WebVTT (images and text tracks): no video bytes, wherever they lie. */
function isPreview(kind: string | undefined): boolean {
  return kind === "image" || kind === "text-track";
}

async function serveMedia(c: Context<AppEnv>): Promise<Response> {
  const { videoId, token, path } = parseMediaPath(c.req.path);
  const services = c.get("services");
  const { config } = services;
  const nowSeconds = Math.floor(services.clock.now() / 1000);
  let grant: MediaGrant;
  try {
    grant = await verifyMediaToken(config, videoId, token, nowSeconds);
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
  if (!isPreviewGrant(grant)) await requireLiveStream(services, grant, type.kind === "playlist");
  const key = `${mediaPrefix(videoId)}${path}`;
  const delivery = deliveryFor(services);

  // The master playlist is the video's switch: without it nothing of the video is served, cached
  // segments included (a deleted video, whose master goes first, answers 404 at once here). It is
  // read through the edge cache on every request, never remembered by the isolate, so that
  // switch holds for every isolate of this data center at once.
  const master = await delivery.readText(masterPlaylistKey(videoId), PLAYLIST_TYPE);
  if (master === null) {
    throw new ApiError("not-found", "This video is not available any more. Go back to the catalog to find something else to watch.", {
      headers: { "Cache-Control": "no-store" },
    });
  }
  if (inLadder && path !== MASTER_PLAYLIST_PATH) {
    // The plan cap, closed by default: only what the viewer's capped master leads to is served.
    const access = folderAccess(master, videoId, grant.maxHeight, path.slice(HLS_FOLDER.length));
    if (access === "above-plan") {
      throw refuse(`This rendition is taller than your plan allows (${grant.maxHeight}p). Upgrade your plan to watch it.`);
    }
    if (access === "unknown") throw new ApiError("not-found", `There is no media object '${path}' for this video.`);
  }

  if (type.kind === "playlist") {
    const original = path === MASTER_PLAYLIST_PATH ? master : await delivery.readText(key, type.contentType);
    if (original === null) throw new ApiError("not-found", `There is no playlist '${path}' for this video.`);
    // Only this video's own media, whatever the stored playlist names (hls-playlist.ts).
    const served =
      path === MASTER_PLAYLIST_PATH ? capMasterPlaylist(original, videoId, grant.maxHeight) : ownMediaPlaylist(original, videoId);
    if (served === null) {
      services.log.error("a media playlist names media outside its video; not served", { videoId, path });
      throw new ApiError("not-found", "This part of the title cannot be played. Go back to the catalog and try again later.", {
        headers: { "Cache-Control": "no-store" },
      });
    }
    const body = carryToken(served, videoId, token ?? "");
    // Per viewer (capped to the plan, bound to the token): private. The same URL always gets the
    // same text, so the viewer's browser may keep it as long as the URL lives: a player that
    // loads it again (a reload, a switch back to a rung) costs no request.
    const maxAge = Math.max(0, grant.expiresAt - nowSeconds);
    return new Response(c.req.method === "HEAD" ? null : body, {
      headers: {
        "Content-Type": type.contentType,
        "Cache-Control": `private, max-age=${maxAge}`,
        "Content-Length": String(new TextEncoder().encode(body).byteLength),
      },
    });
  }
  const response = await delivery.serveObject(c.req.raw, key, type.kind, type.contentType);
  if (!response) throw new ApiError("not-found", `There is no media object '${path}' for this video.`);
  // The URL carries this viewer's token: only the viewer's own browser keeps the answer. The copy
  // every viewer shares is the edge cache's, and it is reached only through the checks above.
  const cacheControl = response.headers.get("Cache-Control");
  if (cacheControl) response.headers.set("Cache-Control", cacheControl.replace(/\bpublic\b/, "private"));
  return response;
}

/** The path media takes from R2 (`MEDIA_EDGE_CACHE`; docs/playback.md "Delivery"). */
function deliveryFor(services: Services): MediaDelivery {
  return services.config.MEDIA_EDGE_CACHE === "cache-api"
    ? cacheApiDelivery(services.media, services.waitUntil)
    : workersCacheDelivery(services.media.edge);
}
