-- The web intake's read model for the status page: built from events, for complaints of every channel.
CREATE TABLE complaint_status (
    tracking_code text PRIMARY KEY,
    complaint_id  uuid NOT NULL UNIQUE,
    channel       text NOT NULL,
    status        text NOT NULL,
    status_rank   integer NOT NULL,  -- events come from two topics: never step back to an earlier status
    unit_code     text,
    unit_name     text,
    received_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
