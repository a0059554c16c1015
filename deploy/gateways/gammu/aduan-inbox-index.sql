-- Aduan's only addition to Gammu SMSD's own schema (Debian: /usr/share/doc/gammu-smsd/examples/pgsql.sql).
-- The SMS intake polls `WHERE NOT "Processed" ORDER BY "ID"` (services/intake/sms/gammu.py) and
-- Gammu's schema has no index on "Processed": without this one every poll reads the whole inbox,
-- which only grows. Partial, so it holds just the few rows waiting. Safe to run again.
CREATE INDEX IF NOT EXISTS inbox_aduan_unprocessed ON inbox ("ID") WHERE NOT "Processed";
