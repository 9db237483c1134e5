CREATE TABLE "my_list" (
	"profile_id" text NOT NULL,
	"user_id" text NOT NULL,
	"video_id" text NOT NULL,
	"added_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "my_list_profile_id_video_id_pk" PRIMARY KEY("profile_id","video_id")
);
--> statement-breakpoint
CREATE TABLE "video_ratings" (
	"profile_id" text NOT NULL,
	"user_id" text NOT NULL,
	"video_id" text NOT NULL,
	"rating" smallint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "video_ratings_profile_id_video_id_pk" PRIMARY KEY("profile_id","video_id"),
	CONSTRAINT "video_ratings_rating_check" CHECK ("video_ratings"."rating" in (1, -1))
);
--> statement-breakpoint
ALTER TABLE "my_list" ADD CONSTRAINT "my_list_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "my_list" ADD CONSTRAINT "my_list_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_ratings" ADD CONSTRAINT "video_ratings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_ratings" ADD CONSTRAINT "video_ratings_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "my_list_video_idx" ON "my_list" USING btree ("video_id");--> statement-breakpoint
CREATE INDEX "my_list_user_idx" ON "my_list" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "video_ratings_video_idx" ON "video_ratings" USING btree ("video_id","rating");--> statement-breakpoint
CREATE INDEX "video_ratings_user_idx" ON "video_ratings" USING btree ("user_id");