import { z } from "@hono/zod-openapi";

export const uploadIdParam = z.object({
  uploadId: z
    .string()
    .max(64)
    .openapi({ param: { name: "uploadId", in: "path" }, example: "9f0c6c1e7d2b4a55b1d3e8f7a6c5b4d3", description: "tus upload id" }),
});

export const uploadStatusSchema = z
  .object({
    uploadId: z.string(),
    videoId: z.string(),
    offset: z.number().int().openapi({ description: "Bytes received and stored (tus Upload-Offset)" }),
    length: z.number().int().openapi({ description: "Declared size (tus Upload-Length)" }),
    phase: z.enum(["active", "assembled", "finished", "terminated", "expired"]),
    expiresAt: z.string().openapi({ description: "When an idle upload is expired and its bytes deleted" }),
  })
  .openapi("UploadStatus");

export const sourceAcceptedSchema = z
  .object({
    videoId: z.string(),
    state: z.literal("queued"),
    jobId: z.string().openapi({ description: "The transcode job (logs and queue messages name it)" }),
    bytes: z.number().int(),
  })
  .openapi("SourceAccepted");
