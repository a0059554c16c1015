-- Every SMS a gateway hands over, kept from that moment until it is handled (published to Kafka,
-- or answered): the gateway is told "accepted" only once the row is committed (docs/adr/0003).
CREATE TABLE inbound_sms (
    gateway          text        NOT NULL,            -- "kannel", "gammu-modem1", "generic"
    message_id       text        NOT NULL,            -- the gateway's id: a redelivery is the same row
    sender           text,                            -- E.164; cleared once handled (personal data)
    receiver         text,
    text             text,                            -- cleared once handled
    received_at      timestamptz,
    later_part       boolean     NOT NULL DEFAULT false,  -- an unjoined later part of a long SMS
    accepted_at      timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    handled_at       timestamptz,
    outcome          jsonb,                           -- what the gateway was told; returned to a redelivery
    PRIMARY KEY (gateway, message_id)
);
-- The relay's queue: only what is still waiting.
CREATE INDEX inbound_sms_waiting ON inbound_sms (next_attempt_at) WHERE handled_at IS NULL;
-- Handled rows are kept a while to recognise a late redelivery, then deleted.
CREATE INDEX inbound_sms_handled ON inbound_sms (handled_at) WHERE handled_at IS NOT NULL;
