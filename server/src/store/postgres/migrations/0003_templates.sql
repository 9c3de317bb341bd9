-- livecode store (PostgreSQL), migration 3: interview templates (kept whole, as questions
-- are), and each templated session's way through its template (the question now, the
-- furthest reached, the current question's clock, and the code each question left: candidate
-- content).
CREATE TABLE templates (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX templates_created ON templates (created_by, seq);

CREATE TABLE session_templates (
    session_id  uuid PRIMARY KEY,
    body        jsonb NOT NULL
);
