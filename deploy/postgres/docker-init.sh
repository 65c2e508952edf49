#!/bin/bash
# First start of a Lineage database container (the postgres image runs /docker-entrypoint-initdb.d/*.sh once,
# as the postgres superuser, when its data directory is empty). deploy/compose.yaml and deploy/k8s mount it.
#
#   LINEAGE_DB_KIND=hub     runs init.sql (database lineage_hub; hub-roles.sql: the owner role that migrates
#                           and the service role that may only SELECT and INSERT), then sets the two roles'
#                           passwords from /run/secrets/hub-db-owner-password and hub-db-service-password.
#   LINEAGE_DB_KIND=member  creates the member node's role and database (lineage_member, as init.sql does)
#                           with the password in /run/secrets/member-db-password.
# Passwords go through psql variables (:'name' quotes them), never through the command line.
set -euo pipefail
psql_su=(psql -v ON_ERROR_STOP=1 --no-psqlrc -U "${POSTGRES_USER:-postgres}" -d postgres)
case "${LINEAGE_DB_KIND:-}" in
  hub)
    "${psql_su[@]}" -f /etc/lineage-sql/init.sql
    "${psql_su[@]}" -v owner_pw="$(cat /run/secrets/hub-db-owner-password)" \
      -v service_pw="$(cat /run/secrets/hub-db-service-password)" <<'SQL'
ALTER ROLE lineage_hub_owner PASSWORD :'owner_pw';
ALTER ROLE lineage_hub_service PASSWORD :'service_pw';
SQL
    ;;
  member)
    "${psql_su[@]}" -v member_pw="$(cat /run/secrets/member-db-password)" <<'SQL'
CREATE ROLE lineage_member LOGIN PASSWORD :'member_pw';
CREATE DATABASE lineage_member OWNER lineage_member;
SQL
    ;;
  *)
    echo "docker-init.sh: LINEAGE_DB_KIND must be hub or member, got '${LINEAGE_DB_KIND:-}'" >&2
    exit 1
    ;;
esac
