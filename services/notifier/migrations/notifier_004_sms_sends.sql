-- Every SMS the notifier let out, for its limits (services/notifier/sms_limits.py): per recipient per
-- hour and day, and overall per minute. One row per delivery (its reference), so a retried delivery
-- counts once. The recipient is a SHA-256 digest: the limit needs equality, not the number.
CREATE TABLE sms_sends (
    reference text PRIMARY KEY,
    recipient text NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_sends_recipient ON sms_sends (recipient, sent_at);
CREATE INDEX sms_sends_time ON sms_sends (sent_at);
