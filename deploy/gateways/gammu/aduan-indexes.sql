-- Aduan's only additions to Gammu SMSD's own schema (Debian: /usr/share/doc/gammu-smsd/examples/pgsql.sql),
-- which has neither index. Safe to run again.

-- The SMS intake polls `WHERE NOT "Processed" ORDER BY "ID"` (services/intake/sms/gammu.py): without
-- this, every poll reads the whole inbox, which only grows. Partial, so it holds just the rows waiting.
CREATE INDEX IF NOT EXISTS inbox_aduan_unprocessed ON inbox ("ID") WHERE NOT "Processed";

-- The notifier looks its reference up in CreatorID before queueing an SMS, so that a delivery run
-- again after a crash sends nothing twice (services/notifier/gammu_outbox.py).
CREATE INDEX IF NOT EXISTS outbox_aduan_creator ON outbox ("CreatorID");
CREATE INDEX IF NOT EXISTS sentitems_aduan_creator ON sentitems ("CreatorID");
