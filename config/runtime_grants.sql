-- What the runtime role may do with the owner's tables (docs/OPERATIONS.md, "Database roles").
--
-- Run by the owner after every migrate, after naming the runtime role:
--   SET geodispatch.runtime_role = 'geodispatch_app';
-- Idempotent. Every table starts again from no rights, so a table moved into one of the lists
-- below loses what it had before. A table a later migration creates gets only SELECT and INSERT
-- (the default privileges below) until this runs again: forgetting this step makes a new table
-- refuse changes rather than leave an append-only one open to them.

DO $grants$
DECLARE
    runtime_role text := current_setting('geodispatch.runtime_role');
    -- Append-only: read and add rows, never change or remove one. A new append-only table
    -- (checkpoints, a security audit) is one more name here.
    append_only text[] := ARRAY['dispatch_event', 'dispatch_securityrecord'];
    -- Read only: written by migrations, or by a trigger function running as the owner.
    read_only text[] := ARRAY['dispatch_eventhead', 'django_migrations'];
    -- Trigger functions that write what the runtime role may not (the sequencer numbers each new
    -- event and moves the head): they run with the owner's rights and a fixed search_path, so
    -- no table or function of someone else's can stand in for ours.
    definers text[] := ARRAY['dispatch_event_sequence()', 'dispatch_securityrecord_sequence()'];
    entry text;
    item record;
BEGIN
    IF runtime_role = current_user THEN
        -- It would take the owner's own rights away.
        RAISE EXCEPTION 'runtime_grants.sql must be run by the owner, not by the runtime role %', runtime_role;
    END IF;
    FOREACH entry IN ARRAY append_only || read_only LOOP
        IF to_regclass(entry) IS NULL THEN
            RAISE EXCEPTION 'runtime_grants.sql names table %, which does not exist (run it after migrate)', entry;
        END IF;
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', runtime_role);

    FOR item IN
        SELECT c.oid::regclass AS rel, c.relname, c.relkind FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND NOT EXISTS (
              SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE ALL ON %s %s FROM %I',
                       CASE item.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, item.rel, runtime_role);
        EXECUTE format('GRANT %s ON %s %s TO %I',
                       CASE WHEN item.relkind = 'S' THEN 'USAGE, SELECT'
                            WHEN item.relname = ANY (append_only) THEN 'SELECT, INSERT'
                            WHEN item.relname = ANY (read_only) OR item.relkind IN ('v', 'm') THEN 'SELECT'
                            ELSE 'SELECT, INSERT, UPDATE, DELETE' END,
                       CASE item.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, item.rel, runtime_role);
    END LOOP;

    FOREACH entry IN ARRAY definers LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp',
                       entry::regprocedure);
    END LOOP;

    -- Tables and sequences created later by the owner (a migration).
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO %I', runtime_role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', runtime_role);
END
$grants$;
