-- xroad-vtj audit store on PostgreSQL, schema version 2.
-- * end_user_key (the canonical end user quotas count by) and new_subject_index (a passivated answer's new
--   hetu, blind-indexed) filled from the hashed body like the other searchable columns, with their indexes;
-- * the writers' lock is a lock on a table only the application role (and the owner) may lock, instead of an
--   advisory lock any role that can connect could take;
-- * the application role may create the partitions of the current and the next month only.

ALTER TABLE xroad_vtj_audit.record ADD COLUMN end_user_key text, ADD COLUMN new_subject_index text;

CREATE OR REPLACE FUNCTION xroad_vtj_audit.fill_columns() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    j jsonb := NEW.body::jsonb;
BEGIN
    NEW.kind := j ->> 'kind';
    NEW.audit_id := j ->> 'audit_id';
    NEW.instance := j ->> 'instance';
    NEW.xroad_message_id := j ->> 'xroad_message_id';
    NEW.caller := j ->> 'caller';
    NEW.end_user := j ->> 'end_user';
    NEW.end_user_key := j ->> 'end_user_key';
    NEW.subject_index := j ->> 'subject_index';
    NEW.new_subject_index := j ->> 'new_subject_index';
    NEW.requested_at := j ->> 'requested_at';
    RETURN NEW;
END
$$;

CREATE INDEX record_end_user_key ON xroad_vtj_audit.record (end_user_key, caller, kind, requested_at)
    WHERE end_user_key IS NOT NULL;
CREATE INDEX record_new_subject ON xroad_vtj_audit.record (new_subject_index)
    WHERE new_subject_index IS NOT NULL;
-- Quotas no longer count a caller's day through this index: one index fewer to maintain on every insert.
DROP INDEX xroad_vtj_audit.record_caller;

-- One row, never changed: writers take `LOCK TABLE ... IN EXCLUSIVE MODE` on it inside their transaction.
-- That needs UPDATE (or DELETE/TRUNCATE) on this table, which only the application role is granted; a role
-- that can merely connect cannot take it, unlike an advisory lock.
CREATE TABLE xroad_vtj_audit.write_lock (id integer PRIMARY KEY CHECK (id = 1));
INSERT INTO xroad_vtj_audit.write_lock VALUES (1);
CREATE TRIGGER write_lock_unchanged BEFORE UPDATE OR DELETE ON xroad_vtj_audit.write_lock
    FOR EACH ROW EXECUTE FUNCTION xroad_vtj_audit.refuse_change();
CREATE TRIGGER write_lock_no_truncate BEFORE TRUNCATE ON xroad_vtj_audit.write_lock
    FOR EACH STATEMENT EXECUTE FUNCTION xroad_vtj_audit.refuse_change();

-- Creating any month's partition: the owner's own tool (migrate, retention), not granted to the application.
CREATE FUNCTION xroad_vtj_audit.create_partition(p integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part text := format('record_%s', p);
    upper integer := CASE WHEN p % 100 = 12 THEN p + 89 ELSE p + 1 END;
BEGIN
    IF p < 200001 OR p > 999912 OR p % 100 NOT BETWEEN 1 AND 12 THEN
        RAISE EXCEPTION 'not a period (YYYYMM): %', p;
    END IF;
    IF to_regclass('xroad_vtj_audit.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    LOCK TABLE xroad_vtj_audit.write_lock IN EXCLUSIVE MODE;
    IF to_regclass('xroad_vtj_audit.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE xroad_vtj_audit.%I PARTITION OF xroad_vtj_audit.record '
                   'FOR VALUES FROM (%s) TO (%s)', part, p, upper);
    EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON xroad_vtj_audit.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION xroad_vtj_audit.refuse_change()', part);
END
$$;
REVOKE ALL ON FUNCTION xroad_vtj_audit.create_partition(integer) FROM PUBLIC;

-- What the application may call (with the owner's rights): the partition of this month or the next one by the
-- database's clock, nothing else (a far-future period would capture every later record, a past one could
-- break the order of periods along the chain).
CREATE OR REPLACE FUNCTION xroad_vtj_audit.ensure_partition(p integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_period integer := to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')::integer;
    next_period integer := CASE WHEN now_period % 100 = 12 THEN now_period + 89 ELSE now_period + 1 END;
BEGIN
    IF to_regclass('xroad_vtj_audit.' || format('record_%s', p)) IS NOT NULL THEN
        RETURN;
    END IF;
    IF p <> now_period AND p <> next_period THEN
        RAISE EXCEPTION 'only the partitions of the current and the next month may be created (asked: %)', p
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM xroad_vtj_audit.create_partition(p);
END
$$;
REVOKE ALL ON FUNCTION xroad_vtj_audit.ensure_partition(integer) FROM PUBLIC;
