-- The last status change LAPOR! heard about (its per-complaint sequence): a retried older change
-- never sets the report's status back.
ALTER TABLE reports ADD COLUMN status_sequence integer NOT NULL DEFAULT 0;
