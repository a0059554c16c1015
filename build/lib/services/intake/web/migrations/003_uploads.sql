-- Photos sent with the web form. Kept here, next to the intake that received them; the event
-- carries a reference ("web-upload:<id>"). Bounded by the form's 5 MB limit per photo.
CREATE TABLE uploads (
    upload_id    uuid PRIMARY KEY,
    complaint_id uuid NOT NULL,
    mime_type    text NOT NULL,
    sha256       text NOT NULL,
    size_bytes   integer NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (complaint_id, sha256)
);
