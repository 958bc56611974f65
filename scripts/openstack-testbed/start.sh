#!/bin/bash
# Stands up Keystone + Glance + Placement + Nova (fake driver) + Octavia (no-op backends) on
# 127.0.0.1 from Debian 12's packages (install.sh), seeds what strata's tests use (seed.py) and
# returns once a server can be booted. Everything lives under $S; nothing is written to /etc.
# Based on ../shared/openstack-testbed (verified recipe); see docs/openstack.md.
set -euo pipefail
R=$(cd "$(dirname "$0")" && pwd)          # this folder (helper scripts)
S=${S:-/tmp/strata-openstack-testbed}     # state dir: etc/, data/, logs/, run/
for port in 5000 5672 8774 8778 9292 9696 9876; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "openstack-testbed: 127.0.0.1:$port is taken (a testbed already running? S=... ./stop.sh)" >&2
    exit 1
  fi
done
rm -rf "$S"
# The services stand for a cloud's own machines: at nice -5 (inherited by everything started
# below) the tests and other work on the same 2 cores do not starve them. Without it, at a load
# of 20, Keystone took 10 s to validate a token and Octavia answered a member POST after 38 s.
[ "$(id -u)" = 0 ] && renice -n -5 $$ >/dev/null
PY=/usr/bin/python3                        # NOT the pyenv/virtualenv python3 on PATH
mkdir -p $S/{etc/keystone,etc/glance,etc/nova,etc/placement,etc/octavia,etc/rabbit,logs,run} \
         $S/data/{glance/images,glance/staging,glance/tasks,glance/locks,nova/instances,nova/locks,octavia/certs}
ts() { date +%s.%N; }
T_START=$(ts)
log() { awk -v a="$(ts)" -v b="$T_START" -v m="$*" 'BEGIN{printf "[%6.1fs] %s\n", a-b, m}'; }
wait_http() { # url timeout_s
  for _ in $(seq 1 $(( $2 * 4 ))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
    case $code in 2*|3*|401) return 0;; esac
    sleep 0.25
  done
  echo "timeout waiting for $1" >&2; return 1
}
# The services' databases live in PostgreSQL (the one scripts/ci/engines.sh starts; a database per
# service, os_*, dropped and created afresh here). On SQLite, under load, Nova's conductor and API
# wrote at once and lost boots and deletes to "database is locked" (even with a busy timeout and
# BEGIN IMMEDIATE), and Octavia's worker read a member or pool before the API's write was
# visible ("Failed to fetch member from DB").
PG_HOST=${STRATA_ENGINES_HOST:-127.70.0.1}
PG_PORT=${STRATA_PG_PORT:-55432}
psql_() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -c 'select 1' >/dev/null || {
  echo "openstack-testbed: no PostgreSQL at $PG_HOST:$PG_PORT (start it: scripts/ci/engines.sh start)" >&2
  exit 1
}
for d in keystone glance placement nova_api nova_cell0 nova_cell1 octavia; do
  PGOPTIONS='-c client_min_messages=warning' psql_ -c "DROP DATABASE IF EXISTS os_$d WITH (FORCE)" -c "CREATE DATABASE os_$d"
done
db() { echo "postgresql+psycopg2://postgres@$PG_HOST:$PG_PORT/os_$1"; }
AUTH="www_authenticate_uri = http://127.0.0.1:5000
auth_url = http://127.0.0.1:5000
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = admin
username = admin
password = secret
region_name = RegionOne"
AUTH_NOWWW=$(echo "$AUTH" | grep -v www_authenticate)

# ---------------------------------------------------------------- RabbitMQ
cat > $S/etc/rabbit/env.sh <<EOF
export HOME=$S/data/rabbit
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=5672
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_DIST_PORT=25672
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_MNESIA_BASE=$S/data/rabbit/mnesia
export RABBITMQ_LOG_BASE=$S/logs/rabbitmq
export RABBITMQ_CONFIG_FILE=$S/etc/rabbit/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$S/etc/rabbit/enabled_plugins
export RABBITMQ_PID_FILE=$S/run/rabbitmq.pid
EOF
printf 'listeners.tcp.default = 127.0.0.1:5672\nloopback_users.guest = true\n' > $S/etc/rabbit/rabbitmq.conf
echo '[].' > $S/etc/rabbit/enabled_plugins
mkdir -p $S/data/rabbit
( . $S/etc/rabbit/env.sh; exec /usr/lib/rabbitmq/bin/rabbitmq-server ) > $S/logs/rabbitmq.stdout 2>&1 &
log "rabbitmq starting"

# ---------------------------------------------------------------- configs
cat > $S/etc/keystone/keystone.conf <<EOF
[DEFAULT]
log_file = $S/logs/keystone.log
[database]
connection = $(db keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $S/data/keystone-fernet-keys
[fernet_receipts]
key_repository = $S/data/keystone-fernet-keys
[credential]
key_repository = $S/data/keystone-credential-keys
EOF
cat > $S/etc/keystone/uwsgi.ini <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:5000
wsgi-file = /usr/bin/keystone-wsgi-public
env = OS_KEYSTONE_CONFIG_DIR=$S/etc/keystone
master = true
# two processes: one slow request (a token issue under load) does not queue every other one
processes = 2
threads = 1
lazy-apps = true
buffer-size = 65535
die-on-term = true
no-orphans = true
# uwsgi http-socket does not do keep-alive: without this python-requests reuses
# a closed connection and POSTs fail with "Connection reset by peer"
add-header = Connection: close
logto = $S/logs/keystone-uwsgi.log
pidfile = $S/run/keystone.pid
EOF

cat > $S/etc/glance/glance-api.conf <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
log_file = $S/logs/glance-api.log
enabled_backends = fs:file
[database]
connection = $(db glance)
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $S/data/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $S/data/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $S/data/glance/tasks/
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $S/data/glance/locks
[keystone_authtoken]
$AUTH
EOF

cat > $S/etc/placement/placement.conf <<EOF
[DEFAULT]
log_file = $S/logs/placement.log
[placement_database]
connection = $(db placement)
[api]
auth_strategy = keystone
[keystone_authtoken]
$AUTH
EOF
sed -e 's/5000/8778/' -e 's#/usr/bin/keystone-wsgi-public#/usr/bin/placement-api#' \
    -e "s#OS_KEYSTONE_CONFIG_DIR=.*#OS_PLACEMENT_CONFIG_DIR=$S/etc/placement#" \
    -e 's/keystone-uwsgi/placement-uwsgi/; s/keystone.pid/placement.pid/' \
    $S/etc/keystone/uwsgi.ini > $S/etc/placement/uwsgi.ini

cat > $S/etc/nova/nova.conf <<EOF
[DEFAULT]
host = ci-compute
my_ip = 127.0.0.1
state_path = $S/data/nova
instances_path = $S/data/nova/instances
transport_url = rabbit://guest:guest@127.0.0.1:5672/
# nova.virt.fake, with a console the tests' hypervisor stand-in can write (strata_console.py)
compute_driver = strata_console.ConsoleFileDriver
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 2
# a loaded 2-core machine: the API's and the conductor's RPC calls wait longer than the default
# 60 s, and nova-compute's 10 s reports may come late without the scheduler calling it down
rpc_response_timeout = 180
service_down_time = 180
[api]
auth_strategy = keystone
[api_database]
connection = $(db nova_api)
[database]
connection = $(db nova_cell1)
[conductor]
workers = 2
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 2
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[oslo_concurrency]
lock_path = $S/data/nova/locks
[vnc]
enabled = false
[keystone_authtoken]
$AUTH
[placement]
$AUTH_NOWWW
[glance]
region_name = RegionOne
[neutron]
# no Neutron: a 30-line stub answers every GET collection with []
$AUTH_NOWWW
endpoint_override = http://127.0.0.1:9696
EOF

cat > $S/etc/octavia/octavia.conf <<EOF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
rpc_response_timeout = 180
[api_settings]
bind_host = 127.0.0.1
bind_port = 9876
auth_strategy = keystone
enabled_provider_drivers = amphora:Amphora provider (noop backends),noop_driver:The No-Op driver.
default_provider_driver = amphora
[database]
connection = $(db octavia)
[controller_worker]
network_driver = network_noop_driver
compute_driver = compute_noop_driver
amphora_driver = amphora_noop_driver
workers = 1
loadbalancer_topology = SINGLE
client_ca = $S/data/octavia/ca.pem
[certificates]
cert_manager = local_cert_manager
cert_generator = local_cert_generator
ca_certificate = $S/data/octavia/ca.pem
ca_private_key = $S/data/octavia/ca.key
storage_path = $S/data/octavia/certs
[haproxy_amphora]
server_ca = $S/data/octavia/ca.pem
client_cert = $S/data/octavia/ca.pem
[oslo_messaging]
topic = octavia_prov
[oslo_concurrency]
lock_path = $S/data/octavia
[keystone_authtoken]
$AUTH
[service_auth]
$AUTH_NOWWW
EOF
sed -e 's/5000/9876/' -e 's#^wsgi-file = .*#wsgi-file = /usr/bin/octavia-wsgi#' \
    -e "s#^env = .*#pyargv = --config-file $S/etc/octavia/octavia.conf --log-file $S/logs/octavia-api.log#" \
    -e 's/keystone-uwsgi/octavia-uwsgi/; s/keystone.pid/octavia.pid/' \
    $S/etc/keystone/uwsgi.ini > $S/etc/octavia/uwsgi.ini
log "configs written"

# ---------------------------------------------------------------- DB schemas (in parallel)
(
  KM="keystone-manage --config-file $S/etc/keystone/keystone.conf"
  $KM db_sync
  $KM fernet_setup --keystone-user root --keystone-group root
  $KM credential_setup --keystone-user root --keystone-group root
  $KM bootstrap --bootstrap-password secret --bootstrap-username admin \
     --bootstrap-project-name admin --bootstrap-role-name admin \
     --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
     --bootstrap-admin-url http://127.0.0.1:5000/v3/ \
     --bootstrap-public-url http://127.0.0.1:5000/v3/ \
     --bootstrap-internal-url http://127.0.0.1:5000/v3/
  uwsgi --ini $S/etc/keystone/uwsgi.ini > /dev/null 2>&1 &
) > $S/logs/keystone-init.log 2>&1 &
P_KS=$!
(
  NM="nova-manage --config-file $S/etc/nova/nova.conf"
  $NM api_db sync
  $NM cell_v2 map_cell0 --database_connection "$(db nova_cell0)"
  $NM cell_v2 create_cell --name cell1
  $NM db sync
) > $S/logs/nova-init.log 2>&1 &
P_NOVA=$!
(
  glance-manage --config-file $S/etc/glance/glance-api.conf db_sync
  placement-manage --config-file $S/etc/placement/placement.conf db sync
  $PY $R/octavia-db-init.py "$(db octavia)"
  octavia-db-manage --config-file $S/etc/octavia/octavia.conf stamp head
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $S/data/octavia/ca.key \
     -out $S/data/octavia/ca.pem -days 30 -subj /CN=octavia-ci-ca
) > $S/logs/other-init.log 2>&1 &
P_OTHER=$!

wait $P_OTHER || { tail -30 $S/logs/other-init.log >&2; exit 1; }
log "glance/placement/octavia DB ready"
# services that only need their DB can start now
glance-api --config-file $S/etc/glance/glance-api.conf > $S/logs/glance-api.stdout 2>&1 &
echo $! > $S/run/glance-api.pid
uwsgi --ini $S/etc/placement/uwsgi.ini > /dev/null 2>&1 &
uwsgi --ini $S/etc/octavia/uwsgi.ini > /dev/null 2>&1 &
$PY $R/neutron-stub.py > $S/logs/neutron-stub.log 2>&1 &
echo $! > $S/run/neutron-stub.pid

wait $P_KS || { tail -30 $S/logs/keystone-init.log >&2; exit 1; }
log "keystone DB + bootstrap ready"
wait_http http://127.0.0.1:5000/v3 60; log "keystone up"
$PY $R/seed.py catalog > $S/logs/seed.log 2>&1 && log "keystone catalog, users demo and quota created"
$PY $R/seed.py resources >> $S/logs/seed.log 2>&1 &
P_SEED=$!

( . $S/etc/rabbit/env.sh; /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 60 $S/run/rabbitmq.pid ) >> $S/logs/rabbitmq.stdout 2>&1
log "rabbitmq up"
octavia-worker --config-file $S/etc/octavia/octavia.conf --log-file $S/logs/octavia-worker.log \
   > $S/logs/octavia-worker.stdout 2>&1 &
echo $! > $S/run/octavia-worker.pid

wait $P_NOVA || { tail -30 $S/logs/nova-init.log >&2; exit 1; }
log "nova DBs ready"
NC="--config-file $S/etc/nova/nova.conf"
# nova-compute must not have DB credentials (else: 'No DB access allowed in nova-compute' errors)
grep -v '^connection = ' $S/etc/nova/nova.conf > $S/etc/nova/nova-compute.conf
nova-conductor $NC --log-file $S/logs/nova-conductor.log > $S/logs/nova-conductor.stdout 2>&1 &
echo $! > $S/run/nova-conductor.pid
nova-scheduler $NC --log-file $S/logs/nova-scheduler.log > $S/logs/nova-scheduler.stdout 2>&1 &
echo $! > $S/run/nova-scheduler.pid
nova-api $NC --log-file $S/logs/nova-api.log > $S/logs/nova-api.stdout 2>&1 &
echo $! > $S/run/nova-api.pid
# nova-compute's /usr/bin wrapper lives in the nova-compute package, which drags in
# libvirt+qemu (~400 MB); the module is in python3-nova, so call it directly.
mkdir -p $S/console
# nova loads its driver from nova.virt.<compute_driver>: strata_console.py is registered there.
PYTHONPATH=$R STRATA_TESTBED_CONSOLE_DIR=$S/console \
$PY -c 'import sys, nova.cmd, strata_console; sys.modules["nova.virt.strata_console"] = strata_console
from nova.cmd.compute import main; sys.argv[0]="nova-compute"; sys.exit(main())' \
   --config-file $S/etc/nova/nova-compute.conf --log-file $S/logs/nova-compute.log > $S/logs/nova-compute.stdout 2>&1 &
echo $! > $S/run/nova-compute.pid

wait_http http://127.0.0.1:9292/ 60; log "glance up"
wait_http http://127.0.0.1:8778/ 60; log "placement up"
wait_http http://127.0.0.1:9876/ 60; log "octavia-api up"
wait_http http://127.0.0.1:8774/ 90; log "nova-api up"
# wait until the compute node is registered, then map it into cell1
registered() { psql_ -d os_nova_cell1 -c "select count(*) from compute_nodes where deleted=0" | grep -q '^1$'; }
for _ in $(seq 1 240); do registered && break; sleep 0.5; done
registered || { echo "nova-compute did not register in 120 s" >&2; tail -30 $S/logs/nova-compute.log >&2; exit 1; }
nova-manage $NC cell_v2 discover_hosts >> $S/logs/nova-init.log 2>&1
log "nova-compute registered + mapped"
wait $P_SEED || { cat $S/logs/seed.log >&2; exit 1; }
log "seeded: demo/secret, quota/secret, m1.tiny, strata-base: control plane ready"
echo "$T_START" > $S/run/t_start
