#!/usr/bin/env bash
# CI: the OpenStack testbed (scripts/openstack-testbed) for the OpenStack integration tests.
#   scripts/ci/openstack.sh install   Debian packages (about 100 s on a clean machine)
#   scripts/ci/openstack.sh start     start and seed (40 s idle, about 3 min at a load of 20); needs
#                                     the PostgreSQL of scripts/ci/engines.sh; exports nothing, state in $S
#   scripts/ci/openstack.sh stop      stop what start started, by pid
set -euo pipefail
T=$(cd "$(dirname "$0")/../openstack-testbed" && pwd)
export S=${S:-/tmp/strata-openstack-testbed}
t0=$(date +%s)
case "${1:-}" in
  install) "$T/install.sh" > /tmp/strata-openstack-install.log 2>&1 || { tail -50 /tmp/strata-openstack-install.log; exit 1; } ;;
  start) "$T/start.sh" || { tail -30 "$S"/logs/*.log; exit 1; } ;;
  stop) "$T/stop.sh" ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
echo "== openstack testbed $1: $(( $(date +%s) - t0 )) s"
