-- Maturity ratings become a closed set: 'all', '7+', '13+', '16+', '18+' (schema/videos/maturity.ts).
-- Hand-written step before drizzle-kit's statements: today's free text is mapped onto the set, by the
-- usual US film (MPA) and TV (TV Parental Guidelines) codes and plain ages. Anything else, and no
-- rating at all, becomes '18+': a title nobody rated is shown to no profile with a lower ceiling
-- (docs/catalog.md, "Maturity ratings").
UPDATE "videos" SET "maturity_rating" = CASE upper(regexp_replace(coalesce("maturity_rating", ''), '\s', '', 'g'))
	WHEN 'ALL' THEN 'all' WHEN 'G' THEN 'all' WHEN 'TV-G' THEN 'all' WHEN 'TV-Y' THEN 'all' WHEN 'U' THEN 'all' WHEN '0+' THEN 'all'
	WHEN '7+' THEN '7+' WHEN 'PG' THEN '7+' WHEN 'TV-PG' THEN '7+' WHEN 'TV-Y7' THEN '7+' WHEN 'TV-Y7-FV' THEN '7+' WHEN '6+' THEN '7+'
	WHEN '13+' THEN '13+' WHEN 'PG-13' THEN '13+' WHEN 'TV-14' THEN '13+' WHEN '12' THEN '13+' WHEN '12+' THEN '13+' WHEN '12A' THEN '13+'
	WHEN '16+' THEN '16+' WHEN '15' THEN '16+' WHEN '15+' THEN '16+' WHEN '16' THEN '16+'
	ELSE '18+' END;--> statement-breakpoint
ALTER TABLE "videos" ALTER COLUMN "maturity_rating" SET DEFAULT '18+';--> statement-breakpoint
ALTER TABLE "videos" ALTER COLUMN "maturity_rating" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "videos" ADD COLUMN "maturity_rank" smallint GENERATED ALWAYS AS (case maturity_rating when 'all' then 0 when '7+' then 1 when '13+' then 2 when '16+' then 3 else 4 end) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "videos" ADD CONSTRAINT "videos_maturity_rating_check" CHECK ("videos"."maturity_rating" in ('all', '7+', '13+', '16+', '18+'));