#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# the registry gets a role and a database of its own, apart from Temporal's two databases.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=registry_password="$HASA_REGISTRY_PASSWORD" <<'SQL'
CREATE ROLE hasa LOGIN PASSWORD :'registry_password';
CREATE DATABASE hasa_registry OWNER hasa;
REVOKE ALL ON DATABASE hasa_registry FROM PUBLIC;
SQL
