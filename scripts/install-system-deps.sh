#!/usr/bin/env bash
# Install the servers the test suite and the distributed profile run against:
# PostgreSQL 15, PgBouncer, Redis and InfluxDB (1.x, v1 HTTP API), from Debian.
# Idempotent: installs only what is missing. Tests start their own throwaway
# instances on free ports, so services the packages auto-start on their
# default ports are stopped again (the machine's own PostgreSQL and Redis, if
# they were already there, are left alone).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "install-system-deps: need root or sudo to install packages" >&2
    exit 1
fi

have_pg15() {
    [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/postgres ]
}
on_path() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

missing=()
have_pg15 || missing+=(postgresql-15 postgresql-client-15)
on_path pgbouncer || missing+=(pgbouncer)
on_path redis-server || missing+=(redis-server)
on_path influxd || missing+=(influxdb)
on_path psql || missing+=(postgresql-client-15)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # browser tests of the dashboard

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-system-deps: everything present"
    exit 0
fi

# Remember which of the servers we want to keep were running before, so that only
# what this run started gets stopped.
was_running() { pgrep -x "$1" >/dev/null 2>&1 && echo yes || echo no; }
pg_before=$(was_running postgres)
redis_before=$(was_running redis-server)
bouncer_before=$(was_running pgbouncer)
influx_before=$(was_running influxd)

echo "install-system-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
# policy-rc.d 101 keeps package scripts from starting services where that hook
# is honoured; the explicit stops below cover the rest.
policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod +x "$policy"
    made_policy=yes
fi
cleanup_policy() { [ "$made_policy" = yes ] && "${SUDO[@]}" rm -f "$policy"; true; }
trap cleanup_policy EXIT

# shellcheck disable=SC2046
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)

stop_service() {
    local name=$1
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl disable --now "$name" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        "${SUDO[@]}" service "$name" stop >/dev/null 2>&1 || true
    fi
}

# Not needed as system services: tests run their own instances. policy-rc.d
# above already keeps most of them from starting; stop any that did anyway.
stop_new() {
    local service=$1 before=$2
    [ "$before" = yes ] || stop_service "$service"
}
stop_new pgbouncer "$bouncer_before"
stop_new influxdb "$influx_before"
stop_new postgresql "$pg_before"
stop_new redis-server "$redis_before"

echo "install-system-deps: done"
have_pg15 && echo "  postgresql: $(/usr/lib/postgresql/15/bin/postgres --version)"
on_path pgbouncer && echo "  pgbouncer: $(PATH="$PATH:/usr/sbin" pgbouncer --version | head -1)"
on_path redis-server && echo "  redis: $(redis-server --version)"
on_path influxd && echo "  influxdb: $(influxd version 2>&1 | head -1)"
exit 0
