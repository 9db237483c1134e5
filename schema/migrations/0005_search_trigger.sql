-- Custom migration: keeps videos.search_document and videos.search_text in step with every
-- insert and update, in the same statement, so an edit is searchable (and a delete gone) at once.
-- A trigger rather than a generated column: array_to_string is only STABLE, and generated
-- columns accept IMMUTABLE expressions only.
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
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER videos_search_sync
  BEFORE INSERT OR UPDATE OF title, summary, "cast", genres ON videos
  FOR EACH ROW EXECUTE FUNCTION videos_search_sync();
--> statement-breakpoint
UPDATE videos SET title = title;
