import type { Video } from "../../schema/index.ts";
import { posterSizes } from "../platform/media-layout.ts";
import { signPreviewToken } from "../platform/media-token.ts";
import type { Services } from "../platform/services.ts";
import type { AdminVideo, EpisodeOf, VideoDocument, VideoSummary } from "./schema.ts";

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
const ID_LENGTH = 20;
const idPattern = new RegExp(`^[0-9a-z]{${ID_LENGTH}}$`);

/**
 * A new video id: 20 random characters of [0-9a-z] (about 103 bits). Random rather than
 * sequential, so ids reveal neither catalog size nor creation order and spread evenly if the
 * catalog is ever sharded by id.
 */
export function newVideoId(): string {
  let id = "";
  while (id.length < ID_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(ID_LENGTH))) {
      // 252 = 7 * 36: dropping 252..255 keeps every character equally likely.
      if (byte < 252 && id.length < ID_LENGTH) id += ID_ALPHABET[byte % 36];
    }
  }
  return id;
}

/** Ids that cannot exist are answered 404 without asking the database. */
export function isVideoId(value: string): boolean {
  return idPattern.test(value);
}

/**
 * URL of one of a video's previews (poster, storyboard), served by `/media/{id}/{token}/…` under a
 * preview token: signed like playback URLs, but the same for every viewer all day long, so
 * documents that carry it can be cached and shared (see `signPreviewToken`).
 */
export async function previewUrl(services: DocumentServices, id: string, objectName: string | null): Promise<string | null> {
  if (objectName === null) return null;
  const { config, clock } = services;
  return `${config.PUBLIC_BASE_URL}/media/${id}/${await signPreviewToken(config, id, Math.floor(clock.now() / 1000))}/${objectName}`;
}

/** What building a document needs: the configuration (base URL, signing keys) and the clock (preview tokens' day). */
type DocumentServices = Pick<Services, "config" | "clock">;

/** The poster in every size the transcoder made (`srcset`), under one preview token. */
async function posterSet(services: DocumentServices, id: string, posterKey: string | null): Promise<{ width: number; url: string }[]> {
  const sizes = posterKey ? posterSizes(posterKey) : [];
  if (sizes.length === 0) return [];
  const base = (await previewUrl(services, id, "")) ?? "";
  return sizes.map((size) => ({ width: size.width, url: `${base}${size.path}` }));
}

export async function toVideoSummary(services: DocumentServices, row: Video): Promise<VideoSummary> {
  return {
    id: row.id,
    title: row.title,
    summary: row.summary,
    genres: row.genres,
    releaseYear: row.releaseYear,
    durationSeconds: row.durationSeconds,
    posterUrl: await previewUrl(services, row.id, row.posterKey),
    posters: await posterSet(services, row.id, row.posterKey),
    maturityRating: row.maturityRating,
  };
}

/** A video's document; `episode` is its place in a series (`episodesOf`), null for a film. */
export async function toVideoDocument(services: DocumentServices, row: Video, episode: EpisodeOf | null): Promise<VideoDocument> {
  return {
    ...(await toVideoSummary(services, row)),
    cast: row.cast,
    renditions: row.renditions.map(({ height, bitrate, codec }) => ({ height, bitrate, codec })),
    thumbnailsUrl: await previewUrl(services, row.id, row.storyboardKey),
    episode,
  };
}

export async function toAdminVideo(services: DocumentServices, row: Video, episode: EpisodeOf | null): Promise<AdminVideo> {
  return {
    ...(await toVideoDocument(services, row, episode)),
    state: row.state,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    publishedAt: row.publishedAt?.toISOString() ?? null,
  };
}
