-- A read-only role for Grafana's PostgreSQL data source (deploy/grafana/): SELECT on every table
-- and view of the schema, now and later, and nothing else. The migration creates the role
-- (NOLOGIN) where the migrating role may create roles (docker-compose: the database owner is a
-- superuser); the embedded cluster's app role may not, so scripts/localdb.sh creates it there.
-- No password in any file: `db init` gives it LOGIN with GRAFANA_DB_PASSWORD from the environment.
DO $migration$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowline_grafana') THEN
        IF NOT EXISTS (SELECT FROM pg_roles
                       WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            RAISE NOTICE 'role flowline_grafana not created: % may not create roles', current_user;
            RETURN;
        END IF;
        CREATE ROLE flowline_grafana NOLOGIN;
        COMMENT ON ROLE flowline_grafana IS
            'Grafana''s read-only role: SELECT on the tables and views of public; LOGIN and password from GRAFANA_DB_PASSWORD at db init';
    END IF;
    GRANT USAGE ON SCHEMA public TO flowline_grafana;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO flowline_grafana;
    -- tables and views later migrations create (the role running them owns them)
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO flowline_grafana;
END
$migration$;
