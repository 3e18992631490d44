-- Schema version 3: indexes that cost only what their searches need (issue 12 §2).
-- Every index entry an append adds is B-tree work and, at commit, a page written to the WAL; an entry with a
-- random key dirties a page of its own. Outcomes (half of all records) carry no message id, end user, subject
-- or request time, yet every one of them added an entry to each of these indexes, and to the kind/time index
-- under a random key (kind, NULL, audit_id). Each index now holds only the records its searches can find:
-- `column = ?`, `column IN (...)`, `column >= ?` and `column < ?` all imply `column IS NOT NULL`, so SQLite
-- uses these partial indexes for every search, count, sweep and quota read (tests/audit/test_query_plans.py).
-- The columns stay generated from the hashed body: an index still cannot disagree with it.
DROP INDEX IF EXISTS audit_record_message_id;
CREATE INDEX audit_record_message_id ON audit_record (xroad_message_id) WHERE xroad_message_id IS NOT NULL;
DROP INDEX IF EXISTS audit_record_end_user;
CREATE INDEX audit_record_end_user ON audit_record (end_user, kind, requested_at, subject_index)
    WHERE end_user IS NOT NULL;
DROP INDEX IF EXISTS audit_record_subject;
CREATE INDEX audit_record_subject ON audit_record (subject_index) WHERE subject_index IS NOT NULL;
-- Intents and refusals (the records with a request time); events, which have none, get a small index of their
-- own for the sweep and verify (`kind = 'event'`).
DROP INDEX IF EXISTS audit_record_kind_time;
CREATE INDEX audit_record_kind_time ON audit_record (kind, requested_at, audit_id) WHERE requested_at IS NOT NULL;
CREATE INDEX audit_record_event ON audit_record (seq) WHERE kind = 'event';
