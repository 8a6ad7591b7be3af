#!/usr/bin/env bash
# Install the servers the distributed tests start for themselves (tests/servers.py): Debian's PostgreSQL
# (initdb, pg_ctl under /usr/lib/postgresql/<major>/bin) and Redis (redis-server). Nothing is started
# here and no system cluster is used: each test session makes its own servers in a temporary directory.
# Idempotent. When it cannot install (not root, no apt) it says why and exits non-zero under CI=true, where
# the distributed tests must run, and 0 elsewhere (the tests then skip, naming this script).
set -uo pipefail

give_up() {
    echo "install_services: $1"
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    exit 0
}

have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
have_redis() { command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; }

if have_postgres && have_redis; then
    echo "install_services: already installed ($(ls -d /usr/lib/postgresql/*/bin | head -n 1);" \
         "$(redis-server --version | cut -d' ' -f1-3))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    give_up "apt-get is not available; install PostgreSQL 15 and Redis 7 yourself (the distributed tests skip until then)"
fi
if [ "$(id -u)" -ne 0 ]; then
    give_up "not root, so apt-get cannot install them; run 'sudo apt-get install postgresql redis-server'"
fi

export DEBIAN_FRONTEND=noninteractive
# The packages' maintainer scripts would start system services; the tests start their own, so tell
# invoke-rc.d not to (policy-rc.d exit 101 = "action forbidden"), and restore whatever was there.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved="$(mktemp)"; cp -p "$policy" "$saved"; fi
printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
restore_policy() { if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore_policy EXIT

apt-get update -qq || give_up "apt-get update failed"
apt-get install -y -qq --no-install-recommends postgresql redis-server >/dev/null \
    || give_up "apt-get install postgresql redis-server failed"
have_postgres && have_redis || give_up "installed, yet pg_ctl or redis-server is still missing"
echo "install_services: installed $(ls -d /usr/lib/postgresql/*/bin | head -n 1) and $(redis-server --version | cut -d' ' -f1-3)"
