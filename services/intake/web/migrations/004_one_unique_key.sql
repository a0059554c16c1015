-- The tracking code is derived from the complaint id, so one unique key is enough; with two,
-- concurrent upserts (the submit path and the status consumer) could collide on the one that
-- ON CONFLICT does not name, and fail.
ALTER TABLE complaint_status DROP CONSTRAINT complaint_status_complaint_id_key;
CREATE INDEX complaint_status_complaint_id ON complaint_status (complaint_id);
