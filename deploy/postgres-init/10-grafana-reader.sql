-- The read-only role Grafana connects as (grafana/provisioning/datasources/verdict.yaml).
--
-- The postgres image runs this once, on an empty data directory, as
-- POSTGRES_USER (the owner of Verdict's tables), before Verdict has created
-- its schema; 20-grafana-reader-password.sh then sets the role's password.
-- Default privileges give the role SELECT on every table and view Verdict's
-- migrations create later, and USAGE on the schemas they create. On a
-- database that already has Verdict's schema, the grants at the end cover the
-- objects that exist. Safe to run again.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') THEN
    CREATE ROLE grafana_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 20;
  END IF;
END
$$;

-- Read-only even if a privilege is granted by mistake, and no runaway dashboard query.
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
ALTER ROLE grafana_reader SET statement_timeout = '60s';
-- Dashboard queries read the rollups and summaries: short, but with plans whose
-- estimated cost can pass jit_above_cost, where compiling takes longer than the
-- query itself (docs/performance.md, npm run bench:queries).
ALTER ROLE grafana_reader SET jit = off;

-- Objects the current role (Verdict's) creates from now on.
ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO grafana_reader;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO grafana_reader;

-- Objects that already exist.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'verdict') THEN
    GRANT USAGE ON SCHEMA verdict TO grafana_reader;
    GRANT SELECT ON ALL TABLES IN SCHEMA verdict TO grafana_reader;
  END IF;
END
$$;
