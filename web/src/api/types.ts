/**
 * The API's response shapes, read from the Worker's own zod schemas (type-only imports: nothing of
 * the Worker reaches the bundle), so a change to the contract is a type error here too.
 */
import type { z } from "zod";
import type { playResponse, progressResponse } from "../../../workers/playback/schema.ts";
import type { plansResponse, subscriptionResponse } from "../../../workers/subscriptions/schema.ts";
import type { authResponse, userSchema } from "../../../workers/users/schema.ts";
import type {
  adminVideoStatusResponse,
  homeResponse,
  videoPageSchema,
  videoSchema,
  videoSummarySchema,
} from "../../../workers/videos/schema.ts";

export type User = z.infer<typeof userSchema>;
export type AuthTokens = z.infer<typeof authResponse>;
export type Plan = z.infer<typeof plansResponse>["plans"][number];
export type Subscription = NonNullable<z.infer<typeof subscriptionResponse>["subscription"]>;
export type VideoSummary = z.infer<typeof videoSummarySchema>;
export type Video = z.infer<typeof videoSchema>;
export type VideoPage = z.infer<typeof videoPageSchema>;
export type Home = z.infer<typeof homeResponse>;
export type SearchPage = { items: (VideoSummary & { score: number })[]; nextCursor: string | null };
export type Playback = z.infer<typeof playResponse>;
export type Progress = z.infer<typeof progressResponse>;

/** Issue 12's chunked transcoding adds this to the admin status (API.md); older Workers leave it out. */
export interface TranscodeStatus {
  step: string;
  chunksDone: number;
  chunksTotal: number;
  attempt: number;
  waitingForTranscoder: boolean;
}
export type AdminVideoStatus = z.infer<typeof adminVideoStatusResponse> & { transcode?: TranscodeStatus | null };
export type AdminVideo = AdminVideoStatus["video"];
