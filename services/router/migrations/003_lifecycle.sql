-- The complaint's life after routing: where it stands, each change (kept as the published event,
-- with the same outbox flag as assignments), and escalations (once per assignment and stage).
ALTER TABLE complaints
    ADD COLUMN status            text NOT NULL DEFAULT 'assigned',
    ADD COLUMN status_sequence   integer NOT NULL DEFAULT 0,
    ADD COLUMN first_response_at timestamptz,   -- for the reports: time to first response
    ADD COLUMN closed_at         timestamptz,   -- done or closed
    ADD COLUMN close_due         date;          -- closes by itself then, after a response
CREATE INDEX complaints_open_status ON complaints (status) WHERE status IN ('assigned', 'acknowledged', 'responded');

ALTER TABLE assignments
    ADD COLUMN forward_due   date,
    ADD COLUMN follow_up_due date;
UPDATE assignments SET forward_due = (event ->> 'forward_due')::date, follow_up_due = (event ->> 'follow_up_due')::date;

CREATE TABLE status_changes (
    change_id           uuid PRIMARY KEY,
    complaint_id        uuid NOT NULL REFERENCES complaints (complaint_id),
    sequence            integer NOT NULL CHECK (sequence >= 1),
    status              text NOT NULL,
    actor               text NOT NULL,
    assignment_sequence integer NOT NULL,
    event               jsonb NOT NULL,
    changed_at          timestamptz NOT NULL DEFAULT now(),
    published_at        timestamptz,
    UNIQUE (complaint_id, sequence)
);
CREATE INDEX status_changes_unpublished ON status_changes (changed_at) WHERE published_at IS NULL;

CREATE TABLE escalations (
    escalation_id uuid PRIMARY KEY,
    complaint_id  uuid NOT NULL REFERENCES complaints (complaint_id),
    assignment_id uuid NOT NULL REFERENCES assignments (assignment_id),
    stage         text NOT NULL,
    due           date NOT NULL,
    event         jsonb NOT NULL,
    escalated_at  timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    UNIQUE (assignment_id, stage)
);
CREATE INDEX escalations_unpublished ON escalations (escalated_at) WHERE published_at IS NULL;
