ALTER TABLE "refresh_tokens" DISABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP TABLE "refresh_tokens" CASCADE;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "copied_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "copied_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "subscriptions_copy_behind_idx" ON "subscriptions" USING btree ("updated_at") WHERE "subscriptions"."copied_at" is distinct from "subscriptions"."updated_at";--> statement-breakpoint
CREATE INDEX "users_copy_behind_idx" ON "users" USING btree ("updated_at") WHERE "users"."copied_at" is distinct from "users"."updated_at";