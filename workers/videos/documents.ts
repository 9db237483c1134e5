import type { Video } from "../../schema/index.ts";
import type { Config } from "../platform/config.ts";
import { signPreviewToken } from "../platform/media-token.ts";
import type { AdminVideo, VideoDocument, VideoSummary } from "./schema.ts";

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
async function previewUrl(config: Config, id: string, objectName: string | null): Promise<string | null> {
  return objectName ? `${config.PUBLIC_BASE_URL}/media/${id}/${await signPreviewToken(config, id)}/${objectName}` : null;
}

export async function toVideoSummary(config: Config, row: Video): Promise<VideoSummary> {
  return {
    id: row.id,
    title: row.title,
    summary: row.summary,
    genres: row.genres,
    releaseYear: row.releaseYear,
    durationSeconds: row.durationSeconds,
    posterUrl: await previewUrl(config, row.id, row.posterKey),
    maturityRating: row.maturityRating,
  };
}

export async function toVideoDocument(config: Config, row: Video): Promise<VideoDocument> {
  return {
    ...(await toVideoSummary(config, row)),
    cast: row.cast,
    renditions: row.renditions.map(({ height, bitrate, codec }) => ({ height, bitrate, codec })),
    thumbnailsUrl: await previewUrl(config, row.id, row.storyboardKey),
  };
}

export async function toAdminVideo(config: Config, row: Video): Promise<AdminVideo> {
  return {
    ...(await toVideoDocument(config, row)),
    state: row.state,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    publishedAt: row.publishedAt?.toISOString() ?? null,
  };
}
