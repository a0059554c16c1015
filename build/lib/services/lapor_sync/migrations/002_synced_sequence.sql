-- Which assignment of the complaint LAPOR! last heard about: re-assignments become follow-ups, once each.
ALTER TABLE reports ADD COLUMN synced_sequence integer NOT NULL DEFAULT 1;
