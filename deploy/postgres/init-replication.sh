#!/bin/sh
# Run once by the postgres image on its first start (docker-entrypoint-initdb.d):
# the replication role the streaming standby of deploy/docker-compose.yml logs in
# with, and the pg_hba line that lets it (as scripts/stack up --pg-replica sets up
# tradestream_replicator on the local primary).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE tradestream_replicator WITH LOGIN REPLICATION PASSWORD :'pw';
GRANT pg_monitor TO tradestream;
SQL
echo "host replication tradestream_replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
