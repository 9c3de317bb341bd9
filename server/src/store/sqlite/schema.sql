-- livecode store, migration 1 (see MIGRATIONS in sqlite.rs; PRAGMA user_version counts them).
-- A change to the schema is a new migration file, never an edit of this one. Times: RFC 3339 UTC.
CREATE TABLE IF NOT EXISTS sessions (
    id                TEXT PRIMARY KEY,
    environment       TEXT NOT NULL,
    label             TEXT,
    status            TEXT NOT NULL,
    container_id      TEXT,
    candidate_hash    TEXT NOT NULL,
    interviewer_hash  TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    last_activity_at  TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    ended_reason      TEXT,
    initial_document  TEXT NOT NULL,
    document          TEXT NOT NULL,
    version           INTEGER NOT NULL,
    files             TEXT NOT NULL,
    notes             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status);

CREATE TABLE IF NOT EXISTS runs (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    by_role      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT,
    exit_code    INTEGER,
    duration_ms  INTEGER,
    build_ms     INTEGER,
    stdout       TEXT NOT NULL DEFAULT '',
    stderr       TEXT NOT NULL DEFAULT '',
    truncated    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_session ON runs (session_id, started_at);

-- Every accepted document change, for replay.
CREATE TABLE IF NOT EXISTS updates (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    version     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    changes     TEXT NOT NULL,
    PRIMARY KEY (session_id, version)
);
