-- One row per (assignment, recipient, kind): a redelivered event never sends twice what is recorded as sent.
CREATE TABLE deliveries (
    assignment_id uuid NOT NULL,
    recipient     text NOT NULL,
    kind          text NOT NULL,
    complaint_id  uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('sending', 'sent')),
    attempts      integer NOT NULL DEFAULT 1,
    message_id    text NOT NULL,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    PRIMARY KEY (assignment_id, recipient, kind)
);
CREATE INDEX deliveries_complaint ON deliveries (complaint_id);
