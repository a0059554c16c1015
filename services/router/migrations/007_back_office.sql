-- The PPID back-office (/ppid): operators sign in with sessions kept in the same tables as the unit inbox's,
-- in a realm of their own, so a unit's session never opens the back-office nor an operator's the inbox.
-- In the 'operator' realm the column "unit" holds the operator's name.
ALTER TABLE inbox_sessions ADD COLUMN realm text NOT NULL DEFAULT 'unit';
ALTER TABLE inbox_sign_in_failures ADD COLUMN realm text NOT NULL DEFAULT 'unit';
DROP INDEX inbox_sign_in_failures_unit;
CREATE INDEX inbox_sign_in_failures_unit ON inbox_sign_in_failures (realm, unit, at);

-- Every time the back-office shows a reporter's contact: who saw it, when, which complaint.
CREATE TABLE contact_views (
    operator     text NOT NULL,
    complaint_id uuid NOT NULL REFERENCES complaints (complaint_id),
    viewed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_views_complaint ON contact_views (complaint_id, viewed_at);
