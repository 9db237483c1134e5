DROP INDEX "search_words_word_trgm_idx";--> statement-breakpoint
DROP INDEX "videos_search_document_idx";--> statement-breakpoint
CREATE INDEX "search_words_first_letter_length_idx" ON "search_words" USING btree (left("word", 1),length("word"));--> statement-breakpoint
CREATE INDEX "search_words_word_prefix_idx" ON "search_words" USING btree ("word" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "search_words_word_trgm_idx" ON "search_words" USING gin ("word" gin_trgm_ops) WITH (fastupdate=false);--> statement-breakpoint
CREATE INDEX "videos_search_document_idx" ON "videos" USING gin ("search_document") WITH (fastupdate=false) WHERE "videos"."state" = 'ready';