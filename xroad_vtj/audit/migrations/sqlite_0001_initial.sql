-- xroad-vtj audit store on SQLite, schema version 1 (PRAGMA user_version).
-- Applied by the service itself when it opens the database (see xroad_vtj/audit/sqlite_store.py).

-- The searchable columns are generated from the hashed body, so they can never disagree with it.
CREATE TABLE IF NOT EXISTS audit_record (
    seq    INTEGER PRIMARY KEY,
    period INTEGER NOT NULL,
    body   TEXT    NOT NULL,
    hash   BLOB    NOT NULL,
    kind             TEXT GENERATED ALWAYS AS (json_extract(body, '$.kind')) VIRTUAL,
    audit_id         TEXT GENERATED ALWAYS AS (json_extract(body, '$.audit_id')) VIRTUAL,
    xroad_message_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.xroad_message_id')) VIRTUAL,
    caller           TEXT GENERATED ALWAYS AS (json_extract(body, '$.caller')) VIRTUAL,
    end_user         TEXT GENERATED ALWAYS AS (json_extract(body, '$.end_user')) VIRTUAL,
    subject_index    TEXT GENERATED ALWAYS AS (json_extract(body, '$.subject_index')) VIRTUAL,
    requested_at     TEXT GENERATED ALWAYS AS (json_extract(body, '$.requested_at')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS audit_record_audit_id ON audit_record (audit_id, kind);
CREATE INDEX IF NOT EXISTS audit_record_message_id ON audit_record (xroad_message_id);
CREATE INDEX IF NOT EXISTS audit_record_end_user
    ON audit_record (end_user, kind, requested_at, subject_index);
CREATE INDEX IF NOT EXISTS audit_record_caller ON audit_record (caller, kind, requested_at);
CREATE INDEX IF NOT EXISTS audit_record_subject ON audit_record (subject_index);
CREATE INDEX IF NOT EXISTS audit_record_kind_time ON audit_record (kind, requested_at);
CREATE INDEX IF NOT EXISTS audit_record_period ON audit_record (period);

-- Not evidence: one row that readiness probes rewrite to prove the file takes writes again after a failure.
CREATE TABLE IF NOT EXISTS audit_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS audit_checkpoint (
    seq        INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    document   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_checkpoint_seq ON audit_checkpoint (seq);

-- Retention's controlled exception to append-only: a DELETE passes the trigger only for periods up to the
-- permit row that retention inserts and removes again in the same transaction, and no permit may reach
-- into the last five years.
CREATE TABLE IF NOT EXISTS audit_retention_permit (through_period INTEGER NOT NULL);

CREATE TRIGGER IF NOT EXISTS audit_retention_permit_floor BEFORE INSERT ON audit_retention_permit
WHEN NEW.through_period >= CAST(strftime('%Y%m', 'now', '-5 years') AS INTEGER)
BEGIN SELECT RAISE(ABORT, 'retention may not remove any of the last five years'); END;

CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;

CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record
WHEN NOT EXISTS (SELECT 1 FROM audit_retention_permit WHERE OLD.period <= through_period)
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;

CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;

CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
