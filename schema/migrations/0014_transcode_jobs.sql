CREATE TABLE "transcode_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"video_id" text NOT NULL,
	"source_key" text NOT NULL,
	"step" text DEFAULT 'plan' NOT NULL,
	"plan" jsonb,
	"chunks_total" integer,
	"last_error" text,
	"quality_report" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "transcode_jobs_step_check" CHECK ("transcode_jobs"."step" in ('plan', 'encode', 'finalize', 'done', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "transcode_tasks" (
	"job_id" text NOT NULL,
	"id" text NOT NULL,
	"kind" text NOT NULL,
	"chunk_index" integer,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"instance" text,
	"lease_expires_at" timestamp with time zone,
	"progress" real,
	"last_error" text,
	"result" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"waiting_since" timestamp with time zone,
	"dispatched_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dead_lettered_at" timestamp with time zone,
	CONSTRAINT "transcode_tasks_job_id_id_pk" PRIMARY KEY("job_id","id"),
	CONSTRAINT "transcode_tasks_state_check" CHECK ("transcode_tasks"."state" in ('pending', 'waiting', 'running', 'done', 'failed')),
	CONSTRAINT "transcode_tasks_kind_check" CHECK ("transcode_tasks"."kind" in ('plan', 'chunk', 'audio', 'finalize'))
);
--> statement-breakpoint
ALTER TABLE "transcode_jobs" ADD CONSTRAINT "transcode_jobs_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "transcode_tasks" ADD CONSTRAINT "transcode_tasks_job_id_transcode_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."transcode_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "transcode_jobs_video_idx" ON "transcode_jobs" USING btree ("video_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "transcode_tasks_instance_busy_idx" ON "transcode_tasks" USING btree ("instance") WHERE "transcode_tasks"."state" = 'running';--> statement-breakpoint
CREATE INDEX "transcode_tasks_lease_idx" ON "transcode_tasks" USING btree ("lease_expires_at") WHERE "transcode_tasks"."state" = 'running';--> statement-breakpoint
CREATE INDEX "transcode_tasks_unsent_idx" ON "transcode_tasks" USING btree ("updated_at") WHERE "transcode_tasks"."state" in ('pending', 'waiting');