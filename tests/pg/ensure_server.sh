#!/usr/bin/env bash
# The tests start their own PostgreSQL server (make test runs every test on the files, then on it):
# only Debian's server programs are needed. Installed here when missing, so `make test` on a fresh
# machine does all the set-up (as root in CI; a developer's machine asks for sudo).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" > /dev/null || command -v pg_ctl > /dev/null; then
    exit 0
fi
if ! command -v apt-get > /dev/null; then
    echo "make test needs the PostgreSQL server programs (pg_ctl) for its second run; install PostgreSQL" \
         "with your system's packages, or run only the file backend: .venv/bin/python -m pytest" >&2
    exit 1
fi
echo "Installing Debian's postgresql (the tests start their own server from it)..." >&2
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq postgresql > /dev/null
