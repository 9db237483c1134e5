-- Custom migration: the search trigger now also records every word of three letters or more of
-- a video's title, cast and genres in search_words (the dictionary typo correction uses), and
-- existing videos are backfilled.
CREATE OR REPLACE FUNCTION videos_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_document :=
    setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector('simple', coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector('simple', coalesce(array_to_string(NEW."cast", ' '), '')), 'B') ||
    setweight(to_tsvector('simple', coalesce(array_to_string(NEW.genres, ' '), '')), 'C') ||
    setweight(to_tsvector('english', coalesce(NEW.summary, '')), 'D');
  NEW.search_text := lower(
    coalesce(NEW.title, '') || ' ' ||
    coalesce(array_to_string(NEW."cast", ' '), '') || ' ' ||
    coalesce(array_to_string(NEW.genres, ' '), '')
  );
  INSERT INTO search_words (word)
    SELECT DISTINCT word FROM regexp_split_to_table(NEW.search_text, '[^[:alnum:]]+') AS word
    WHERE length(word) BETWEEN 3 AND 40
  ON CONFLICT (word) DO NOTHING;
  RETURN NEW;
END
$$;
--> statement-breakpoint
INSERT INTO search_words (word)
  SELECT DISTINCT word FROM videos, regexp_split_to_table(coalesce(videos.search_text, ''), '[^[:alnum:]]+') AS word
  WHERE length(word) BETWEEN 3 AND 40
ON CONFLICT (word) DO NOTHING;
