-- Replies by phone and contact changes are matched with digests of the reporter's number and channel user
-- id (contracts.contact_digest): intakes now seal the contact for the notifier, and the router keeps no plain
-- number of a reporter who hides their identity. Complaints stored before carry their reporter in plain; their
-- digests are computed from it here.
ALTER TABLE complaints ADD COLUMN contact_digests text[] NOT NULL DEFAULT '{}';

UPDATE complaints SET contact_digests = ARRAY(
    SELECT encode(sha256(convert_to('aduan-contact:' || address, 'UTF8')), 'hex')
    FROM unnest(ARRAY[reporter ->> 'phone', reporter ->> 'channel_user_id']) AS address
    WHERE address IS NOT NULL);

CREATE INDEX complaints_contact_digests ON complaints USING gin (contact_digests);
