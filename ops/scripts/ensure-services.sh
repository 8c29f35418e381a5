#!/usr/bin/env bash
# Make sure the servers the test suite talks to are installed and running on this machine:
# PostgreSQL 15 (started if down) and Debian's influxd binary (installed if missing; the tests
# start their own influxd with a config and data directory of their own).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "ensure-services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

if ! command -v influxd >/dev/null; then
  echo "ensure-services: installing Debian's influxdb package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
fi
command -v influxd >/dev/null || { echo "ensure-services: influxd is still missing after apt-get install influxdb" >&2; exit 1; }

# The browser tests (tests/e2e) drive Debian's Chromium through Playwright.
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-services: installing Debian's chromium package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# `make cluster` (ops/scripts/cluster.py) runs Debian's nginx, prometheus (with promtool) and
# the PostgreSQL and NGINX exporters with configurations of its own; the system services stay
# stopped.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] || ! command -v promtool >/dev/null \
   || ! command -v prometheus-postgres-exporter >/dev/null || ! command -v prometheus-nginx-exporter >/dev/null; then
  echo "ensure-services: installing Debian's nginx-light, prometheus and exporter packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light prometheus \
    prometheus-postgres-exporter prometheus-nginx-exporter >/dev/null
fi
