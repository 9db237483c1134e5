CREATE TABLE "recommendation_runs" (
	"kind" text PRIMARY KEY NOT NULL,
	"finished_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recommended_rows" (
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"video_ids" text[] NOT NULL,
	"computed_at" timestamp (3) with time zone NOT NULL,
	"pending" boolean DEFAULT true NOT NULL,
	"published_at" timestamp (3) with time zone,
	CONSTRAINT "recommended_rows_kind_subject_pk" PRIMARY KEY("kind","subject")
);
--> statement-breakpoint
ALTER TABLE "watch_progress" ADD COLUMN "country" text;--> statement-breakpoint
CREATE INDEX "recommended_rows_pending_idx" ON "recommended_rows" USING btree ("kind","subject") WHERE "recommended_rows"."pending";--> statement-breakpoint
CREATE INDEX "recommended_rows_published_idx" ON "recommended_rows" USING btree ("published_at");--> statement-breakpoint
CREATE INDEX "recommended_rows_video_ids_idx" ON "recommended_rows" USING gin ("video_ids");--> statement-breakpoint
CREATE INDEX "watch_progress_updated_idx" ON "watch_progress" USING btree ("updated_at","video_id","country");