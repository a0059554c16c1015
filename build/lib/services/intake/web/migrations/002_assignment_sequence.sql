-- Re-assignments: the status shows the latest assignment, never an older one delivered late.
ALTER TABLE complaint_status ADD COLUMN assignment_sequence integer NOT NULL DEFAULT 0;
