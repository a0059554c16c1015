-- What happened to a complaint, for the status page: one row per event, so a redelivered event
-- (same entry_key) adds nothing. entry_key: 'received', 'assigned:<sequence>',
-- 'status:<sequence>' or 'lapor:<LAPOR! tracking id>'. Escalations are internal: never stored.
CREATE TABLE status_history (
    tracking_code       text NOT NULL,
    entry_key           text NOT NULL,
    status              text NOT NULL,
    at                  timestamptz NOT NULL,
    unit_name           text,
    message             text,  -- the unit's words to the citizen (responded, done); nothing else
    lapor_tracking_id   text,
    assignment_sequence integer NOT NULL DEFAULT 0,
    status_sequence     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tracking_code, entry_key)
);

-- The current status follows (assignment_sequence, status_sequence, status_rank): a status change
-- of a later assignment, or a later change of the same one, wins; a late, older one never does.
ALTER TABLE complaint_status
    ADD COLUMN status_sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN message text,
    ADD COLUMN status_at timestamptz;
-- A status change read before the complaint's own events has no received_at yet; they fill it in.
ALTER TABLE complaint_status ALTER COLUMN received_at DROP NOT NULL;
UPDATE complaint_status SET status_at = CASE WHEN status = 'diterima' THEN received_at ELSE updated_at END;

-- Complaints from before the history: what the read model knew of them.
INSERT INTO status_history (tracking_code, entry_key, status, at)
SELECT tracking_code, 'received', 'diterima', received_at FROM complaint_status;
INSERT INTO status_history (tracking_code, entry_key, status, at, unit_name, assignment_sequence)
SELECT tracking_code, 'assigned:' || assignment_sequence, 'diteruskan', updated_at, unit_name, assignment_sequence
FROM complaint_status WHERE status = 'diteruskan';
