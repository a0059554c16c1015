-- Re-assignments by operators and units, and the outbox flag: an assignment stored but not yet
-- published (the router died in between, or Kafka was down for an API call) is published later.
ALTER TABLE assignments
    ADD COLUMN assigned_by  text NOT NULL DEFAULT 'rules',
    ADD COLUMN reason       text,
    ADD COLUMN published_at timestamptz;
UPDATE assignments SET published_at = assigned_at;
CREATE INDEX assignments_unpublished ON assignments (assigned_at) WHERE published_at IS NULL;
