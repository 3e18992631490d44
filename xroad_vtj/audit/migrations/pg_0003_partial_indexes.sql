-- xroad-vtj audit store on PostgreSQL, schema version 3: indexes that cost only what their searches need
-- (issue 12 §2, as SQLite's sqlite_0003). Outcomes, half of all records, carry no message id, end user, subject
-- or request time: they no longer add an entry to those indexes on every insert. `column = $1`,
-- `column = ANY($1)`, `column >= $1` and `column < $1` all imply `column IS NOT NULL` (strict operators), so the
-- planner uses these partial indexes for every search, count, sweep and quota read, generic plans included.
-- Events, which have no request time, get a small index of their own (`kind = 'event'`: sweep and verify).
-- The columns are still filled from the hashed body by record_fill, and `audit verify` compares them with it.
DROP INDEX xroad_vtj_audit.record_message_id;
CREATE INDEX record_message_id ON xroad_vtj_audit.record (xroad_message_id) WHERE xroad_message_id IS NOT NULL;
DROP INDEX xroad_vtj_audit.record_end_user;
CREATE INDEX record_end_user ON xroad_vtj_audit.record (end_user, kind, requested_at, subject_index)
    WHERE end_user IS NOT NULL;
DROP INDEX xroad_vtj_audit.record_subject;
CREATE INDEX record_subject ON xroad_vtj_audit.record (subject_index) WHERE subject_index IS NOT NULL;
DROP INDEX xroad_vtj_audit.record_kind_time;
CREATE INDEX record_kind_time ON xroad_vtj_audit.record (kind, requested_at) WHERE requested_at IS NOT NULL;
CREATE INDEX record_event ON xroad_vtj_audit.record (seq) WHERE kind = 'event';
