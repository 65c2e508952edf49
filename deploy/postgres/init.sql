-- One database per role: a member node keeps its private fingerprints apart from everything else,
-- the hub keeps the index, sessions, cases and the transparency log. Schemas and tables are created by
-- the services' migrations (libs/store); this creates the databases and who may connect.
--
-- Run as a superuser:  psql -f deploy/postgres/init.sql
-- The hub's database is owned by the administrator, not by any role a service logs in as (a database's
-- owner can drop it). hub-roles.sql then creates the hub's migration role (owns the tables) and its
-- service role (SELECT and INSERT only); see README.md.
CREATE DATABASE lineage_hub;
REVOKE ALL ON DATABASE lineage_hub FROM PUBLIC;
\connect lineage_hub
\ir hub-roles.sql
GRANT CONNECT ON DATABASE lineage_hub TO lineage_hub_owner, lineage_hub_service;
\connect postgres

CREATE ROLE lineage_member LOGIN;
CREATE DATABASE lineage_member OWNER lineage_member;
