CREATE TABLE "seasons" (
	"series_id" text NOT NULL,
	"number" integer NOT NULL,
	"title" text,
	CONSTRAINT "seasons_series_id_number_pk" PRIMARY KEY("series_id","number"),
	CONSTRAINT "seasons_number_check" CHECK ("seasons"."number" between 1 and 999)
);
--> statement-breakpoint
CREATE TABLE "series" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"summary" text NOT NULL,
	"genres" text[] DEFAULT '{}'::text[] NOT NULL,
	"maturity_rating" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"search_document" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(summary, '')), 'D')) STORED NOT NULL,
	CONSTRAINT "series_maturity_rating_check" CHECK ("series"."maturity_rating" is null or "series"."maturity_rating" in ('all', '7+', '13+', '16+', '18+'))
);
--> statement-breakpoint
ALTER TABLE "videos" ADD COLUMN "series_id" text;--> statement-breakpoint
ALTER TABLE "videos" ADD COLUMN "season_number" integer;--> statement-breakpoint
ALTER TABLE "videos" ADD COLUMN "episode_number" integer;--> statement-breakpoint
ALTER TABLE "seasons" ADD CONSTRAINT "seasons_series_id_series_id_fk" FOREIGN KEY ("series_id") REFERENCES "public"."series"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "series_search_document_idx" ON "series" USING gin ("search_document") WITH (fastupdate=false);--> statement-breakpoint
ALTER TABLE "videos" ADD CONSTRAINT "videos_series_id_series_id_fk" FOREIGN KEY ("series_id") REFERENCES "public"."series"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "videos" ADD CONSTRAINT "videos_season_fk" FOREIGN KEY ("series_id","season_number") REFERENCES "public"."seasons"("series_id","number") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "videos" ADD CONSTRAINT "videos_episode_unique" UNIQUE("series_id","season_number","episode_number");--> statement-breakpoint
ALTER TABLE "videos" ADD CONSTRAINT "videos_episode_check" CHECK (("videos"."series_id" is null and "videos"."season_number" is null and "videos"."episode_number" is null) or ("videos"."series_id" is not null and "videos"."season_number" is not null and "videos"."episode_number" between 1 and 9999));