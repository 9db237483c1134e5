CREATE TABLE "plans" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"price_cents" integer NOT NULL,
	"currency" text NOT NULL,
	"max_height" integer NOT NULL,
	"screens" integer NOT NULL,
	"position" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_price_check" CHECK ("plans"."price_cents" >= 0),
	CONSTRAINT "plans_currency_check" CHECK ("plans"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "plans_limits_check" CHECK ("plans"."max_height" > 0 and "plans"."screens" > 0)
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"status" text NOT NULL,
	"current_period_start" timestamp with time zone NOT NULL,
	"current_period_end" timestamp with time zone NOT NULL,
	"cancel_at" timestamp with time zone,
	"canceled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscriptions_status_check" CHECK ("subscriptions"."status" in ('active', 'canceled')),
	CONSTRAINT "subscriptions_period_check" CHECK ("subscriptions"."current_period_end" > "subscriptions"."current_period_start")
);
--> statement-breakpoint
CREATE TABLE "videos" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"summary" text NOT NULL,
	"genres" text[] DEFAULT '{}'::text[] NOT NULL,
	"cast" text[] DEFAULT '{}'::text[] NOT NULL,
	"release_year" integer NOT NULL,
	"maturity_rating" text,
	"duration_seconds" double precision,
	"state" text DEFAULT 'awaiting-upload' NOT NULL,
	"progress" real,
	"quality_report" jsonb,
	"renditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"poster_key" text,
	"storyboard_key" text,
	"published_at" timestamp (3) with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "videos_state_check" CHECK ("videos"."state" in ('awaiting-upload', 'uploading', 'queued', 'transcoding', 'ready', 'failed')),
	CONSTRAINT "videos_ready_published_check" CHECK ("videos"."state" <> 'ready' or "videos"."published_at" is not null),
	CONSTRAINT "videos_progress_check" CHECK ("videos"."progress" is null or ("videos"."progress" >= 0 and "videos"."progress" <= 1))
);
--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "subscriptions_user_id_key" ON "subscriptions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "subscriptions_plan_id_idx" ON "subscriptions" USING btree ("plan_id");--> statement-breakpoint
CREATE INDEX "videos_catalog_idx" ON "videos" USING btree ("published_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "videos"."state" = 'ready';--> statement-breakpoint
CREATE INDEX "videos_genres_idx" ON "videos" USING gin ("genres") WHERE "videos"."state" = 'ready';