#!/bin/bash
# Installs Debian 12 (bookworm) OpenStack Zed packages without starting any daemon and without
# prompts; run as root on a clean machine (about 100 s). start.sh runs everything from $S, with
# the services' databases in the PostgreSQL of scripts/ci/engines.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# Keep maintainer scripts from starting services (sysv or systemd) with the packaged
# configs (keystone on :5000 on all IPs, rabbitmq, ...).
# Removed again on exit when this script put it there: other CI steps' packages (PostgreSQL, etcd)
# may rely on apt starting their services.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
fi
apt-get update
# All debconf questions (configure_db, configure_ksat, configure_rabbit, register endpoint...)
# default to false, so no preseeding is needed under DEBIAN_FRONTEND=noninteractive.
apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  keystone glance-api nova-api nova-conductor nova-scheduler placement-api octavia-api \
  python3-openstackclient rabbitmq-server python3-psycopg2 postgresql-client curl openssl
