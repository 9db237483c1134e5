-- Custom migration: the search document is built from words split on punctuation, as search terms
-- are (`searchTerms` splits a query on everything but letters and digits). Postgres's text-search
-- parser reads "Catch-22" as 'catch' and the signed integer '-22', "9-1-1" as '9' and '-1', and
-- "noir-0e84386b" as a hyphenated word whose parts differ from how it parses "0e84386b" alone, so
-- a search for "catch 22" found nothing. Punctuation, spaces and control characters become spaces
-- first; with the C locale (PGlite) letters outside ASCII stay word characters, as in the parser.
CREATE OR REPLACE FUNCTION search_plain(input text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT regexp_replace(coalesce(input, ''), '[[:punct:][:space:][:cntrl:]]+', ' ', 'g') $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION videos_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_document :=
    setweight(to_tsvector('english', search_plain(NEW.title)), 'A') ||
    setweight(to_tsvector('simple', search_plain(NEW.title)), 'A') ||
    setweight(to_tsvector('simple', search_plain(array_to_string(NEW."cast", ' '))), 'B') ||
    setweight(to_tsvector('simple', search_plain(array_to_string(NEW.genres, ' '))), 'C') ||
    setweight(to_tsvector('english', search_plain(NEW.summary)), 'D');
  NEW.search_text := lower(
    coalesce(NEW.title, '') || ' ' ||
    coalesce(array_to_string(NEW."cast", ' '), '') || ' ' ||
    coalesce(array_to_string(NEW.genres, ' '), '')
  );
  INSERT INTO search_words (word)
    SELECT DISTINCT word FROM regexp_split_to_table(search_plain(NEW.search_text), ' ') AS word
    WHERE length(word) BETWEEN 3 AND 40
  ON CONFLICT (word) DO NOTHING;
  RETURN NEW;
END
$$;
--> statement-breakpoint
UPDATE videos SET title = title;
