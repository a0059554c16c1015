-- The scheduled-retry table of a service that delivers to the outside (shared/jobs.py).
-- One row per job key; the row is also the delivery record: what was done, when, how often tried.
CREATE TABLE jobs (
    job_id          bigserial PRIMARY KEY,
    job_key         text NOT NULL UNIQUE,
    kind            text NOT NULL,
    complaint_id    uuid,
    payload         jsonb NOT NULL,
    source_topic    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text,
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE status = 'pending';
CREATE INDEX jobs_complaint ON jobs (complaint_id);
