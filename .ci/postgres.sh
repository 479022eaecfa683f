#!/usr/bin/env bash
# Source this: start a throwaway PostgreSQL server on 127.0.0.1 for the shared-study tests (tests/test_tuner_postgres.py)
# unless ALAMP_TEST_POSTGRES_DSN is already set, and export that DSN. Idempotent: a server already answering on the
# port is reused. Uses the Debian package's binaries (installed with apt-get when missing); initdb refuses to run as
# root, so the cluster belongs to the `postgres` user. Trust authentication, bound to 127.0.0.1 only: a test server.
if [ -z "${ALAMP_TEST_POSTGRES_DSN:-}" ]; then
    alamp_pg_port="${ALAMP_PG_PORT:-54329}"
    alamp_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$alamp_pg_bin" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        alamp_pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
    if ! "$alamp_pg_bin/pg_isready" -q -h 127.0.0.1 -p "$alamp_pg_port"; then
        alamp_pg_data="${ALAMP_PG_DATA:-${TMPDIR:-/tmp}/alamp-pg-$alamp_pg_port}"
        alamp_pg_as=()
        if [ "$(id -u)" = 0 ]; then alamp_pg_as=(runuser -u postgres --); fi
        if [ ! -s "$alamp_pg_data/PG_VERSION" ]; then
            rm -rf "$alamp_pg_data" && mkdir -p "$alamp_pg_data"
            [ "$(id -u)" = 0 ] && chown postgres: "$alamp_pg_data"
            "${alamp_pg_as[@]}" "$alamp_pg_bin/initdb" -D "$alamp_pg_data" -U postgres -A trust --no-sync >/dev/null
        fi
        "${alamp_pg_as[@]}" "$alamp_pg_bin/pg_ctl" -D "$alamp_pg_data" -l "$alamp_pg_data/server.log" -w -s \
            -o "-h 127.0.0.1 -p $alamp_pg_port -k $alamp_pg_data" start
    fi
    export ALAMP_TEST_POSTGRES_DSN="postgresql+psycopg2://postgres@127.0.0.1:$alamp_pg_port/postgres"
fi
