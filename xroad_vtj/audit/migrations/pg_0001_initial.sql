-- xroad-vtj audit store on PostgreSQL, schema version 1.
-- Applied by `xroad-vtj audit migrate` as the schema owner; the service connects as an application role that
-- may only SELECT and INSERT (see GRANTs in xroad_vtj/audit/pg_schema.py and docs/audit.md).

CREATE SCHEMA IF NOT EXISTS xroad_vtj_audit;

-- One row per record. seq is unique by construction (one writer at a time under an advisory lock) and
-- checked by verify; a unique index across partitions would need the partition key in it.
-- The searchable columns after hash are always filled from the hashed body by the record_fill trigger (one
-- JSON parse per row; generated columns would parse once per column), so they cannot disagree with it.
CREATE TABLE xroad_vtj_audit.record (
    seq              bigint  NOT NULL,
    period           integer NOT NULL,
    body             text    NOT NULL,
    hash             bytea   NOT NULL,
    kind             text,
    audit_id         text,
    instance         text,
    xroad_message_id text,
    caller           text,
    end_user         text,
    subject_index    text,
    requested_at     text,
    PRIMARY KEY (period, seq)
) PARTITION BY RANGE (period);

CREATE FUNCTION xroad_vtj_audit.fill_columns() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    j jsonb := NEW.body::jsonb;
BEGIN
    NEW.kind := j ->> 'kind';
    NEW.audit_id := j ->> 'audit_id';
    NEW.instance := j ->> 'instance';
    NEW.xroad_message_id := j ->> 'xroad_message_id';
    NEW.caller := j ->> 'caller';
    NEW.end_user := j ->> 'end_user';
    NEW.subject_index := j ->> 'subject_index';
    NEW.requested_at := j ->> 'requested_at';
    RETURN NEW;
END
$$;

CREATE TRIGGER record_fill BEFORE INSERT ON xroad_vtj_audit.record
    FOR EACH ROW EXECUTE FUNCTION xroad_vtj_audit.fill_columns();

CREATE INDEX record_seq ON xroad_vtj_audit.record (seq);
CREATE INDEX record_audit_id ON xroad_vtj_audit.record (audit_id, kind);
CREATE INDEX record_message_id ON xroad_vtj_audit.record (xroad_message_id);
CREATE INDEX record_end_user ON xroad_vtj_audit.record (end_user, kind, requested_at, subject_index);
CREATE INDEX record_caller ON xroad_vtj_audit.record (caller, kind, requested_at);
CREATE INDEX record_subject ON xroad_vtj_audit.record (subject_index);
CREATE INDEX record_kind_time ON xroad_vtj_audit.record (kind, requested_at);

CREATE TABLE xroad_vtj_audit.checkpoint (
    seq        bigint NOT NULL,
    created_at text   NOT NULL,
    document   text   NOT NULL
);
CREATE INDEX checkpoint_seq ON xroad_vtj_audit.checkpoint (seq);

-- Append-only: defence in depth (a superuser or the owner can disable triggers; tamper evidence comes from
-- the hash chain and the signed checkpoints kept outside the database).
CREATE FUNCTION xroad_vtj_audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE TRIGGER record_append_only BEFORE UPDATE OR DELETE ON xroad_vtj_audit.record
    FOR EACH ROW EXECUTE FUNCTION xroad_vtj_audit.refuse_change();
CREATE TRIGGER record_no_truncate BEFORE TRUNCATE ON xroad_vtj_audit.record
    FOR EACH STATEMENT EXECUTE FUNCTION xroad_vtj_audit.refuse_change();
CREATE TRIGGER checkpoint_append_only BEFORE UPDATE OR DELETE ON xroad_vtj_audit.checkpoint
    FOR EACH ROW EXECUTE FUNCTION xroad_vtj_audit.refuse_change();
CREATE TRIGGER checkpoint_no_truncate BEFORE TRUNCATE ON xroad_vtj_audit.checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION xroad_vtj_audit.refuse_change();

-- Monthly partitions. The application may create the partition of a new month (it cannot create anything
-- else): this function runs with its owner's rights.
CREATE FUNCTION xroad_vtj_audit.ensure_partition(p integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
    PERFORM pg_advisory_xact_lock(hashtext('xroad_vtj_audit.ensure_partition'));
    IF to_regclass('xroad_vtj_audit.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE xroad_vtj_audit.%I PARTITION OF xroad_vtj_audit.record '
                   'FOR VALUES FROM (%s) TO (%s)', part, p, upper);
    EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON xroad_vtj_audit.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION xroad_vtj_audit.refuse_change()', part);
END
$$;
REVOKE ALL ON FUNCTION xroad_vtj_audit.ensure_partition(integer) FROM PUBLIC;

-- Retention: detach and drop one whole month, never one of the last five years. Owner only.
CREATE FUNCTION xroad_vtj_audit.remove_period(p integer) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part text := format('record_%s', p);
    floor_period integer := to_char(now() - interval '5 years', 'YYYYMM')::integer;
BEGIN
    IF p >= floor_period THEN
        RAISE EXCEPTION 'retention may not remove any of the last five years (period %)', p;
    END IF;
    IF to_regclass('xroad_vtj_audit.' || part) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER TABLE xroad_vtj_audit.record DETACH PARTITION xroad_vtj_audit.%I', part);
    EXECUTE format('DROP TABLE xroad_vtj_audit.%I', part);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION xroad_vtj_audit.remove_period(integer) FROM PUBLIC;
