-- The citizen's replies to a unit's response: each is recorded once (reply_id from the channel's
-- message id) with the status change it caused. A reply stops the automatic closure and gives the
-- unit a new deadline to answer (answer_due).
ALTER TABLE complaints ADD COLUMN answer_due date;

CREATE TABLE citizen_replies (
    reply_id     uuid PRIMARY KEY,
    complaint_id uuid NOT NULL REFERENCES complaints (complaint_id),
    change_id    uuid NOT NULL REFERENCES status_changes (change_id),
    received_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

DROP INDEX complaints_open_status;
CREATE INDEX complaints_open_status ON complaints (status)
    WHERE status IN ('assigned', 'acknowledged', 'responded', 'replied');
