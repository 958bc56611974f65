#!/usr/bin/env bash
# The real engines strata runs on at scale, from Debian's packages, on loopback only:
# PostgreSQL 15 (a private cluster), etcd 3.4 and OpenStack Swift with its s3api middleware.
#
#   scripts/ci/engines.sh install   apt-get install (run `apt-get update` first)
#   scripts/ci/engines.sh start     start all three, wait until each answers, write $DIR/env
#   scripts/ci/engines.sh stop      stop what start started (idempotent)
#   scripts/ci/engines.sh env       print the environment the engine tests read
#
# Everything lives under $STRATA_ENGINES_DIR (default /tmp/strata-engines); nothing under /etc
# or the packages' own services is touched. Run as root (CI) or as a user who may run initdb.
set -euo pipefail

DIR="${STRATA_ENGINES_DIR:-/tmp/strata-engines}"
HOST="${STRATA_ENGINES_HOST:-127.70.0.1}"
PG_PORT="${STRATA_PG_PORT:-55432}"
ETCD_PORT="${STRATA_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${STRATA_ETCD_PEER_PORT:-23800}"
S3_PORT="${STRATA_S3_PORT:-8090}"
# Swift's storage servers; the proxy is the only one clients talk to.
SWIFT_ACCOUNT_PORT=16202
SWIFT_CONTAINER_PORT=16201
SWIFT_OBJECT_PORT=16200
# tempauth user test:tester / testing is the S3 access key / secret.
S3_ACCESS_KEY="test:tester"
S3_SECRET="testing"
PACKAGES=(postgresql etcd-server etcd-client swift swift-proxy swift-object swift-container swift-account python3-swift curl)

log() { echo "[engines] $*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

# PostgreSQL refuses to run as root: the cluster belongs to the postgres user (or to the caller).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for() { # description, command...
  local what=$1
  shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "$what did not come up; its log:"
  tail -n 40 "$DIR/$what.log" >&2 || true
  return 1
}

start_postgres() {
  local bin data="$DIR/pg/data"
  bin=$(pg_bin)
  if [ ! -d "$data" ]; then
    mkdir -p "$DIR/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pg"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$DIR/postgres-init.log"
  fi
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pg"
  as_pg "$bin/pg_ctl" -D "$data" -l "$DIR/pg/postgres.log" -w \
    -o "-c listen_addresses=$HOST -p $PG_PORT -k $DIR/pg -c max_connections=300 -c fsync=off" start >/dev/null
  ln -sf "$DIR/pg/postgres.log" "$DIR/postgres.log"
  wait_for postgres "$bin/pg_isready" -h "$HOST" -p "$PG_PORT"
  "$bin/psql" -h "$HOST" -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'strata'" | grep -q 1 ||
    "$bin/psql" -h "$HOST" -p "$PG_PORT" -U postgres -qc "CREATE ROLE strata LOGIN SUPERUSER"
  "$bin/psql" -h "$HOST" -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'strata'" | grep -q 1 ||
    "$bin/psql" -h "$HOST" -p "$PG_PORT" -U postgres -qc "CREATE DATABASE strata OWNER strata"
  log "postgres on $HOST:$PG_PORT"
}

stop_postgres() {
  [ -f "$DIR/pg/data/postmaster.pid" ] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null || true
}

start_etcd() {
  mkdir -p "$DIR/etcd"
  nohup etcd --name strata --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "strata=http://$HOST:$ETCD_PEER_PORT" >"$DIR/etcd.log" 2>&1 &
  echo $! >"$DIR/etcd/pid"
  wait_for etcd curl -fsS "http://$HOST:$ETCD_PORT/health"
  log "etcd on $HOST:$ETCD_PORT"
}

stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

write_swift_config() {
  local etc="$DIR/swift/etc" user
  user=$(id -un)
  mkdir -p "$etc" "$DIR/swift/srv/d1" "$DIR/swift/run"
  cat >"$etc/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = strata-ci
swift_hash_path_prefix = strata-ci
[storage-policy:0]
name = Policy-0
default = yes
CONF
  local common="[DEFAULT]
bind_ip = $HOST
user = $user
swift_dir = $etc
devices = $DIR/swift/srv
mount_check = false
log_address = /nonexistent
log_level = WARNING
workers = 1"
  for kind in account container object; do
    local port_var="SWIFT_${kind^^}_PORT"
    printf '%s\nbind_port = %s\n\n[pipeline:main]\npipeline = %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n' \
      "$common" "${!port_var}" "$kind" "$kind" "$kind" >"$etc/$kind-server.conf"
    if [ ! -f "$etc/$kind.ring.gz" ]; then
      (cd "$etc" && swift-ring-builder "$kind.builder" create 4 1 1 >/dev/null &&
        swift-ring-builder "$kind.builder" add "r1z1-$HOST:${!port_var}/d1" 1 >/dev/null &&
        swift-ring-builder "$kind.builder" rebalance >/dev/null)
    fi
  done
  cat >"$etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = $HOST
bind_port = $S3_PORT
user = $user
swift_dir = $etc
log_address = /nonexistent
log_level = WARNING
workers = 1

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = RegionOne

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $S3_SECRET .admin

# tempauth insists on a memcache client; with no memcached listening every lookup is a miss,
# which s3api's per-request signature check does not need.
[filter:cache]
use = egg:swift#memcache
memcache_servers = $HOST:11299

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
}

start_swift() {
  write_swift_config
  local etc="$DIR/swift/etc"
  for kind in account container object proxy; do
    nohup "swift-$kind-server" "$etc/$kind-server.conf" >"$DIR/swift-$kind.log" 2>&1 &
    echo $! >"$DIR/swift/run/$kind.pid"
  done
  wait_for swift-proxy curl -fsS "http://$HOST:$S3_PORT/healthcheck"
  for kind in account container object; do
    local port_var="SWIFT_${kind^^}_PORT"
    wait_for "swift-$kind" bash -c "exec 3<>/dev/tcp/$HOST/${!port_var}"
  done
  log "swift (s3api) on $HOST:$S3_PORT, access key $S3_ACCESS_KEY"
}

stop_swift() {
  for kind in proxy object container account; do stop_pidfile "$DIR/swift/run/$kind.pid"; done
}

print_env() {
  cat <<ENV
export STRATA_ENGINE_TESTS=1
export STRATA_TEST_POSTGRES_URL=postgres://strata@$HOST:$PG_PORT/strata
export STRATA_TEST_ETCD_ENDPOINTS=http://$HOST:$ETCD_PORT
export STRATA_TEST_S3_ENDPOINT=http://$HOST:$S3_PORT
export STRATA_TEST_S3_REGION=RegionOne
export STRATA_TEST_S3_ACCESS_KEY_ID=$S3_ACCESS_KEY
export STRATA_TEST_S3_SECRET_ACCESS_KEY=$S3_SECRET
ENV
}

case "${1:-}" in
  install)
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${PACKAGES[@]}" >/dev/null
    ;;
  start)
    mkdir -p "$DIR"
    start_postgres
    start_etcd
    start_swift
    print_env >"$DIR/env"
    ;;
  stop)
    stop_swift
    stop_pidfile "$DIR/etcd/pid"
    stop_postgres
    ;;
  env) print_env ;;
  *)
    echo "usage: $0 install|start|stop|env" >&2
    exit 2
    ;;
esac
