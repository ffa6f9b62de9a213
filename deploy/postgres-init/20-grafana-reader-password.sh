#!/bin/sh
# Sets the password of the read-only role 10-grafana-reader.sql created, from
# GRAFANA_READER_PASSWORD (the postgres service's environment in
# docker-compose.yml; the grafana service reads the same variable).
# Runs once, with the other /docker-entrypoint-initdb.d scripts.
set -e
if [ -z "$GRAFANA_READER_PASSWORD" ]; then
  echo "20-grafana-reader-password.sh: GRAFANA_READER_PASSWORD is not set; grafana_reader cannot log in" >&2
  exit 1
fi
# psql interpolates :'password' as a quoted literal when it reads the statement from stdin.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=password="$GRAFANA_READER_PASSWORD" <<'SQL'
ALTER ROLE grafana_reader PASSWORD :'password';
SQL
