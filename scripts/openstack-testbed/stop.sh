#!/bin/bash
# Stops everything start.sh started, by pid (never by name: other services may share the machine).
S=${S:-/tmp/strata-openstack-testbed}
for n in nova-compute nova-api nova-scheduler nova-conductor octavia-worker glance-api \
         neutron-stub keystone placement octavia; do
  f=$S/run/$n.pid
  [ -s $f ] && kill "$(cat $f)" 2>/dev/null && echo "stopped $n ($(cat $f))"
done
if [ -f $S/etc/rabbit/env.sh ]; then
  # Bounded: with its beam already killed, rabbitmqctl stop waited on the pid file for 10 minutes.
  ( . $S/etc/rabbit/env.sh; timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl stop $S/run/rabbitmq.pid >/dev/null 2>&1 ) \
    || { [ -s $S/run/rabbitmq.pid ] && kill -9 "$(cat $S/run/rabbitmq.pid)" 2>/dev/null; true; }
  echo "stopped rabbitmq"
  ERL_EPMD_ADDRESS=127.0.0.1 /usr/lib/erlang/erts-*/bin/epmd -kill >/dev/null 2>&1 && echo "stopped epmd"
fi
sleep 3
