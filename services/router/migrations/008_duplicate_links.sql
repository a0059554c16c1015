-- Possible duplicates, found in the background (routing/duplicates.py) and shown to the unit: a complaint and
-- an earlier open one it may repeat. Complaints stored before this migration are not looked at again.
ALTER TABLE complaints ADD COLUMN duplicates_checked boolean NOT NULL DEFAULT false;
UPDATE complaints SET duplicates_checked = true;
CREATE INDEX complaints_duplicates_unchecked ON complaints (received_at) WHERE NOT duplicates_checked;

CREATE TABLE duplicate_links (
    complaint_id uuid NOT NULL REFERENCES complaints (complaint_id),
    duplicate_of uuid NOT NULL REFERENCES complaints (complaint_id),
    similarity   real NOT NULL,
    reason       text NOT NULL,  -- same reporter, same kelurahan, similar words
    found_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (complaint_id, duplicate_of)
);
CREATE INDEX duplicate_links_duplicate_of ON duplicate_links (duplicate_of);
