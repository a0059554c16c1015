-- The router's own tables. No other service reads them: what consumers need travels in events.
CREATE TABLE complaints (
    complaint_id       uuid PRIMARY KEY,
    tracking_code      text NOT NULL UNIQUE,
    channel            text NOT NULL,
    channel_message_id text NOT NULL,
    text               text NOT NULL,
    anonymity          text NOT NULL,
    reporter           jsonb NOT NULL,
    category           text,
    received_at        timestamptz NOT NULL,
    correlation_id     text NOT NULL,
    stored_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per (re-)assignment. The published event is kept verbatim so that a redelivered
-- ComplaintReceived republishes the same ComplaintAssigned (same event_id) instead of deciding again.
CREATE TABLE assignments (
    assignment_id   uuid PRIMARY KEY,
    complaint_id    uuid NOT NULL REFERENCES complaints (complaint_id),
    sequence        integer NOT NULL CHECK (sequence >= 1),
    unit_code       text NOT NULL,
    rule_id         text NOT NULL,
    ruleset_version text NOT NULL,
    matched_terms   text[] NOT NULL,
    is_fallback     boolean NOT NULL,
    event           jsonb NOT NULL,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (complaint_id, sequence)
);
CREATE INDEX assignments_unit_code ON assignments (unit_code, assigned_at);
