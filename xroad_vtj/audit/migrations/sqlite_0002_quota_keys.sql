-- Schema version 2: what quotas and searches by a passivated person's new hetu need.
-- end_user_key: the canonical end user (NFKC, case-folded) an intent's body carries since format 1 gained it;
-- quotas load one end user's day through its index instead of a caller's whole day.
-- new_subject_index: the blind index of a passivated answer's new hetu (outcome bodies), for search by subject.
-- Both are read from the hashed body, like the other searchable columns, so they cannot disagree with it.
ALTER TABLE audit_record ADD COLUMN end_user_key TEXT
    GENERATED ALWAYS AS (json_extract(body, '$.end_user_key')) VIRTUAL;
ALTER TABLE audit_record ADD COLUMN new_subject_index TEXT
    GENERATED ALWAYS AS (json_extract(body, '$.new_subject_index')) VIRTUAL;
CREATE INDEX audit_record_new_subject ON audit_record (new_subject_index) WHERE new_subject_index IS NOT NULL;
-- Quotas no longer count a caller's day through this index (they keep counts in memory and read one end
-- user's day through audit_record_end_user_key): one index fewer to maintain on every insert.
DROP INDEX IF EXISTS audit_record_caller;
-- The start-up sweep (intents without an outcome) reads a day of intents through audit_record_kind_time: with
-- audit_id in it, each one is checked without reading its row (and evaluating its body), 3x faster on a busy
-- day.
DROP INDEX IF EXISTS audit_record_kind_time;
CREATE INDEX audit_record_kind_time ON audit_record (kind, requested_at, audit_id);
-- Only intents carry end_user_key: outcomes, half the log, skip this index (one JSON lookup, not four).
CREATE INDEX audit_record_end_user_key ON audit_record (end_user_key, caller, kind, requested_at)
    WHERE end_user_key IS NOT NULL;
