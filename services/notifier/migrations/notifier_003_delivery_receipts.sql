-- What channels report on the messages the notifier sent (WhatsApp statuses): one row per message,
-- its furthest state and the failure if it failed. A delivery (a jobs row) and its receipt share the
-- channel's message id, which the job's result records. (Named to sort after jobs_001_table.sql:
-- migrations run in file-name order across both folders.)
CREATE TABLE delivery_receipts (
    message_id  text PRIMARY KEY,
    channel     text NOT NULL,
    state       text NOT NULL CHECK (state IN ('sent', 'delivered', 'read', 'failed')),
    state_at    timestamptz NOT NULL,
    error_code  integer,
    error_title text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_message_id ON jobs ((result ->> 'message_id')) WHERE result ? 'message_id';
