#!/usr/bin/python3
"""`seed.py catalog` (before Nova starts: its scheduler and compute need placement's endpoint)
and `seed.py resources` (once Glance and Nova answer) seed the testbed in one process each (20 `openstack` CLI calls take ~40 s; this ~3 s):
the service catalog; project `demo` with user demo/secret (roles member and
load-balancer_member: Octavia's default policy wants the latter); project `quota`
with user quota/secret and an instance quota of 0 (strata's quota-error test);
flavor m1.tiny; a public 1 MiB raw image `strata-base` (what strata boots from)."""
import os
import sys
from keystoneauth1.identity import v3
from keystoneauth1 import session
from keystoneclient.v3 import client

AUTH = 'http://127.0.0.1:5000/v3'
sess = session.Session(auth=v3.Password(
    auth_url=AUTH, username='admin', password='secret', project_name='admin',
    user_domain_id='default', project_domain_id='default'))
ks = client.Client(session=sess)
PHASE = sys.argv[1]

if PHASE == 'catalog':
    ks.projects.create('service', 'default')
    roles = {r.name: r for r in ks.roles.list()}
    lb_member = roles.get('load-balancer_member') or ks.roles.create('load-balancer_member')
    for name in ('demo', 'quota'):
        project = ks.projects.create(name, 'default')
        user = ks.users.create(name, domain='default', password='secret', default_project=project)
        ks.roles.grant(roles['member'], user=user, project=project)
        ks.roles.grant(lb_member, user=user, project=project)


    for name, stype, url in [('glance', 'image', 'http://127.0.0.1:9292'),
                             ('placement', 'placement', 'http://127.0.0.1:8778'),
                             ('nova', 'compute', 'http://127.0.0.1:8774/v2.1'),
                             ('octavia', 'load-balancer', 'http://127.0.0.1:9876')]:
        svc = ks.services.create(name, stype)
        for iface in ('public', 'internal', 'admin'):
            ks.endpoints.create(svc, url, interface=iface, region='RegionOne')
    print('keystone: catalog, projects demo and quota ready', flush=True)
    raise SystemExit(0)

quota_project = ks.projects.find(name='quota')
NOVA = 'http://127.0.0.1:8774/v2.1'
GLANCE = 'http://127.0.0.1:9292'


def wait_up(url):
    import time
    for _ in range(360):
        try:
            sess.get(url, authenticated=False, raise_exc=False)
            return
        except Exception:
            time.sleep(0.25)
    raise SystemExit('timeout waiting for ' + url)


wait_up(GLANCE + '/')
image = sess.post(GLANCE + '/v2/images', json={
    'name': 'strata-base', 'disk_format': 'raw', 'container_format': 'bare',
    'visibility': 'public'}).json()
sess.put(GLANCE + '/v2/images/%s/file' % image['id'], data=os.urandom(1 << 20),
         headers={'Content-Type': 'application/octet-stream'})
print('glance: image strata-base', image['id'], flush=True)

wait_up(NOVA + '/')
sess.post(NOVA + '/flavors', json={'flavor': {
    'name': 'm1.tiny', 'ram': 64, 'vcpus': 1, 'disk': 1, 'id': 'strata-tiny'}})
sess.put(NOVA + '/os-quota-sets/' + quota_project.id, json={'quota_set': {'instances': 0}})
print('nova: flavor m1.tiny, quota project limited to 0 instances', flush=True)
