-- A complaint merged into an earlier open one it repeats (a unit's click on a possible duplicate). From then
-- on it takes each step of the surviving complaint, so its citizen hears that outcome; it has no list entry,
-- deadline, escalation or report count of its own.
ALTER TABLE complaints
    ADD COLUMN merged_into uuid REFERENCES complaints (complaint_id),
    ADD COLUMN merged_by   text,
    ADD COLUMN merged_at   timestamptz;
CREATE INDEX complaints_merged_into ON complaints (merged_into) WHERE merged_into IS NOT NULL;
