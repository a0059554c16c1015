-- The LAPOR! report created for each complaint: at most one, whatever is redelivered.
CREATE TABLE reports (
    complaint_id      uuid PRIMARY KEY,
    assignment_id     uuid NOT NULL,
    lapor_tracking_id text NOT NULL UNIQUE,
    lapor_status      text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
