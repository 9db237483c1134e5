-- Custom SQL migration file, put your code below! --
-- The three plans of the public contract (API.md, Subscription service). Plans are data: a later
-- migration changes a price or adds a plan; existing rows are left alone if they are already there.
INSERT INTO "plans" ("id", "name", "price_cents", "currency", "max_height", "screens", "position") VALUES
	('basic', 'Basic', 799, 'USD', 480, 1, 1),
	('standard', 'Standard', 1399, 'USD', 1080, 2, 2),
	('premium', 'Premium', 1999, 'USD', 2160, 4, 3)
ON CONFLICT ("id") DO NOTHING;
