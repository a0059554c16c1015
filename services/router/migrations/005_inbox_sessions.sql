-- The unit inbox's sessions, kept here so they can be ended (sign-out, a changed unit password, an
-- operator's `python -m services.router.inbox_sessions revoke <unit>`); the cookie holds only a random id,
-- stored as its SHA-256. A session opened from an e-mail link sees that one complaint (scope).
CREATE TABLE inbox_sessions (
    session_digest text PRIMARY KEY,
    unit           text NOT NULL,
    scope          text,                -- a tracking code; NULL: the whole inbox (signed in with the password)
    credential     text NOT NULL,       -- digest of the unit password it was opened with, or 'link'
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX inbox_sessions_unit ON inbox_sessions (unit) WHERE revoked_at IS NULL;

-- E-mail links are single-use: the digest of each link opened.
CREATE TABLE inbox_link_uses (
    link_digest text PRIMARY KEY,
    used_at     timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins, for the lockout (per unit).
CREATE TABLE inbox_sign_in_failures (
    unit text NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_sign_in_failures_unit ON inbox_sign_in_failures (unit, at);
