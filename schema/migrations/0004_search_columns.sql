ALTER TABLE "videos" ADD COLUMN "search_document" "tsvector";--> statement-breakpoint
ALTER TABLE "videos" ADD COLUMN "search_text" text;--> statement-breakpoint
CREATE INDEX "videos_search_document_idx" ON "videos" USING gin ("search_document") WHERE "videos"."state" = 'ready';--> statement-breakpoint
CREATE INDEX "videos_search_text_trgm_idx" ON "videos" USING gin ("search_text" gin_trgm_ops) WHERE "videos"."state" = 'ready';