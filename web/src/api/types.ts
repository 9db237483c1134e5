/**
 * The API's shapes, inferred from the Worker's own zod schemas (type-only imports: nothing of the
 * Worker reaches the bundle, and lint refuses a value import), so a change to the contract
 * (docs/api.md) is a type error here too. Responses are what the server sends: `z.output`.
 */
import type { z } from "zod";
import type { myListChangeResponse, myListResponse, titleStateResponse } from "../../../workers/my-list/schema.ts";
import type { problemSchema } from "../../../workers/platform/openapi.ts";
import type { playResponse, progressListResponse, progressResponse } from "../../../workers/playback/schema.ts";
import type { searchPageSchema } from "../../../workers/search/schema.ts";
import type { planSchema, subscriptionSchema } from "../../../workers/subscriptions/schema.ts";
import type { QualityReport as TranscoderQualityReport } from "../../../workers/transcoding/contract.ts";
import type { authResponse, userSchema } from "../../../workers/users/schema.ts";
import type {
  adminVideoSchema,
  adminVideoStatusResponse,
  homeResponse,
  previewResponse,
  transcodeStatusSchema,
  videoPageSchema,
  videoSchema,
  videoSummarySchema,
} from "../../../workers/videos/schema.ts";

export type User = z.output<typeof userSchema>;
export type AuthTokens = z.output<typeof authResponse>;
export type Plan = z.output<typeof planSchema>;
export type Subscription = z.output<typeof subscriptionSchema>;
export type VideoSummary = z.output<typeof videoSummarySchema>;
export type Video = z.output<typeof videoSchema>;
export type VideoPage = z.output<typeof videoPageSchema>;
export type Home = z.output<typeof homeResponse>;
export type Preview = z.output<typeof previewResponse>;
export type SearchPage = z.output<typeof searchPageSchema>;
export type Playback = z.output<typeof playResponse>;
export type Progress = z.output<typeof progressResponse>;
export type ProgressList = z.output<typeof progressListResponse>;
export type MyList = z.output<typeof myListResponse>;
export type MyListChange = z.output<typeof myListChangeResponse>;
export type TitleState = z.output<typeof titleStateResponse>;
export type TranscodeStatus = z.output<typeof transcodeStatusSchema>;
export type AdminVideoStatus = z.output<typeof adminVideoStatusResponse>;
export type AdminVideo = z.output<typeof adminVideoSchema>;
/** An error answer (RFC 9457 problem+json), as the Worker sends it. */
export type ProblemDocument = z.output<typeof problemSchema>;
/**
 * The transcoder's quality report, which the admin status passes on as it was stored
 * (`qualityReport` is an open record in the API's schema).
 */
export type QualityReport = TranscoderQualityReport;
