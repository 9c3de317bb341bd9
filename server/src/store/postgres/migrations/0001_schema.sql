-- livecode store on PostgreSQL, migration 1: the whole schema as SQLite's eight migrations
-- left it, and the cluster's tables. A change to the schema is a new file (0002_…), listed in
-- MIGRATIONS in migrate.rs, never an edit of this one. schema_migrations records each.
-- `seq` columns keep the order rows were written in, as SQLite's rowid does there.

CREATE TABLE sessions (
    id                uuid PRIMARY KEY,
    environment       text NOT NULL,
    label             text,
    status            text NOT NULL,
    container_id      text,
    candidate_hash    text NOT NULL,
    interviewer_hash  text NOT NULL,
    created_at        timestamptz NOT NULL,
    last_activity_at  timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    ended_reason      text,
    -- The document at base_version, where the kept history starts.
    initial_document  text NOT NULL,
    base_version      bigint NOT NULL DEFAULT 0,
    document          text NOT NULL,
    version           bigint NOT NULL,
    notes             text NOT NULL DEFAULT '',
    -- "key" for the API key, "ip:<address>" for an open-mode client.
    created_by        text NOT NULL DEFAULT '',
    -- The other files by path, their versions (edited together), and the counter that keeps
    -- an older write of them from landing after a newer one.
    files             jsonb NOT NULL DEFAULT '{}',
    file_versions     jsonb NOT NULL DEFAULT '{}',
    files_rev         bigint NOT NULL DEFAULT 0,
    -- The documents of the session's other languages, by environment name.
    documents         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_status ON sessions (status);
CREATE INDEX sessions_created ON sessions (created_by, created_at);

CREATE TABLE runs (
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    id            uuid PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES sessions (id),
    by_role       text NOT NULL,
    started_at    timestamptz NOT NULL,
    -- The code it ran when that was not the session's document.
    code          text,
    finished_at   timestamptz,
    status        text,
    exit_code     bigint,
    duration_ms   bigint,
    build_ms      bigint,
    build_cached  boolean NOT NULL DEFAULT false,
    stdout        text NOT NULL DEFAULT '',
    stderr        text NOT NULL DEFAULT '',
    truncated     boolean NOT NULL DEFAULT false
);
CREATE INDEX runs_session ON runs (session_id, started_at, seq);
CREATE INDEX runs_unfinished ON runs (session_id) WHERE finished_at IS NULL;

-- Every accepted document change, for replay. `changes` is json, not jsonb: the change set's
-- text is kept as the client sent it.
CREATE TABLE updates (
    session_id  uuid NOT NULL REFERENCES sessions (id),
    version     bigint NOT NULL,
    at          timestamptz NOT NULL,
    client_id   text NOT NULL,
    changes     json NOT NULL,
    PRIMARY KEY (session_id, version)
);

-- A session's audit trail (what webhooks deliver too), in the order it was recorded.
CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    session_id  uuid NOT NULL,
    type        text NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX events_session ON events (session_id, seq);

-- Interview questions, kept whole: they are read and written as one.
CREATE TABLE questions (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX questions_created ON questions (created_by, seq);

CREATE TABLE session_questions (
    session_id   uuid PRIMARY KEY,
    question_id  uuid NOT NULL
);

CREATE TABLE test_runs (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    session_id  uuid NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX test_runs_session ON test_runs (session_id, seq);

-- Cluster mode: the replicas, each heartbeating its row.
CREATE TABLE replicas (
    id            uuid PRIMARY KEY,
    url           text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    draining      boolean NOT NULL DEFAULT false
);

-- Which replica owns a session, at which epoch: the fencing token every write of the
-- session's rows checks (begin_write in fence.rs).
CREATE TABLE session_leases (
    session_id   uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    replica      uuid NOT NULL,
    epoch        bigint NOT NULL,
    acquired_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_leases_replica ON session_leases (replica);
