-- Least privilege for the hub's transparency log (issue 8: "the service role can rewrite the log").
--
-- Run once, as a superuser (or a role with CREATEROLE that owns the database), connected to the hub's
-- database (init.sql creates it):  psql -d lineage_hub -f deploy/postgres/hub-roles.sql
--
-- Two roles:
--   lineage_hub_owner    the MIGRATION role. It owns schema "hub" and every table the hub's migrations
--                        create there (log_entries, log_nodes, log_checkpoints, members, member_keys, the
--                        migration bookkeeping), and the append-only triggers on them. Only `lineage hub
--                        migrate` runs as it: logging in as it, or an administrator assuming it (store
--                        option `role`, i.e. SET ROLE).
--   lineage_hub_service  the role `lineage hub serve` logs in as. It may SELECT and INSERT the tables of
--                        schema "hub" and nothing else: no UPDATE, DELETE or TRUNCATE, and since it owns
--                        nothing it cannot ALTER TABLE ... DISABLE TRIGGER, DROP TABLE, or create objects.
--
-- The service role is not a member of the owner role (no SET ROLE escape), owns no database (a database
-- owner may drop it) and has no CREATE on the database or any schema. libs/store/test/least-privilege.test.ts
-- runs this very file (with unique role names) on a real server and checks each refusal.
-- A superuser can still rewrite anything: that is what the hub's start-up re-verification
-- (services/hub/src/log/log-integrity.ts), auditors and witnesses are for.

CREATE ROLE lineage_hub_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE ROLE lineage_hub_service LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
-- Set both passwords out of band:  \password lineage_hub_owner   \password lineage_hub_service

-- Nobody creates objects in public (PostgreSQL 15's default, stated for older servers). CONNECT on the
-- database is granted by init.sql, which knows its name.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA hub AUTHORIZATION lineage_hub_owner;
GRANT USAGE ON SCHEMA hub TO lineage_hub_service;

-- Whatever the owner creates in "hub" from now on (every migration, today's and later ones) is readable
-- and appendable by the service role, and nothing more.
ALTER DEFAULT PRIVILEGES FOR ROLE lineage_hub_owner IN SCHEMA hub
  GRANT SELECT, INSERT ON TABLES TO lineage_hub_service;

-- Sequences the owner creates (the sketch index numbers its rows) may be used by the service role. The index's
-- one mutable part, a sketch's status columns, is granted by hub migration 0009 to the roles that may append
-- to the log: UPDATE of sketches(status, status_reason, status_at) only — never a log table.
ALTER DEFAULT PRIVILEGES FOR ROLE lineage_hub_owner IN SCHEMA hub
  GRANT USAGE ON SEQUENCES TO lineage_hub_service;
