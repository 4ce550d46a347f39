-- The owner and the runtime role of one GeoDispatch database (docs/OPERATIONS.md, "Database roles").
--
-- Run by a superuser, connected to the application's database, after naming the two roles:
--   SET geodispatch.owner_role = 'geodispatch_owner';
--   SET geodispatch.runtime_role = 'geodispatch_app';
-- Idempotent. A role that exists is kept as it is (with its password); objects that already
-- belong to the owner are left alone, so a database an earlier version filled as the superuser
-- passes to the owner the first time this runs, and later runs change nothing.
-- What the runtime role may do with each table is config/runtime_grants.sql (the owner runs it).

-- PostGIS is not a trusted extension: the owner could not create it when it migrates.
CREATE EXTENSION IF NOT EXISTS postgis;

DO $roles$
DECLARE
    owner_role text := current_setting('geodispatch.owner_role');
    runtime_role text := current_setting('geodispatch.runtime_role');
    owner_oid oid;
    item record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = owner_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', owner_role);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = runtime_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', runtime_role);
    END IF;
    SELECT oid INTO owner_oid FROM pg_roles WHERE rolname = owner_role;

    EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), owner_role);
    EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_role);
    -- Only the owner creates objects; nobody makes temporary tables; the runtime role connects.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), runtime_role);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', runtime_role);

    -- Tables, views and free-standing sequences (a column's sequence moves with its table);
    -- PostGIS's own objects stay with the extension.
    FOR item IN
        SELECT c.oid::regclass AS name,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> owner_oid
          AND NOT EXISTS (
              SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', item.kind, item.name, owner_role);
    END LOOP;

    -- The triggers' functions: the sequencer runs with its owner's rights (runtime_grants.sql).
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> owner_oid
          AND NOT EXISTS (
              SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.name, owner_role);
    END LOOP;
END
$roles$;
