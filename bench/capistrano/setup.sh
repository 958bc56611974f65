#!/bin/sh
# Capistrano's side of bench/delta.bench.ts: N hosts on loopback, each its own
# address and Unix user, served by sshd instances of at most 16 addresses each
# (sshd's ListenAddress limit), and a Capistrano project that pushes a
# prebuilt tarball to them (Debian's capistrano 3.17 and openssh-server).
#
#   bench/capistrano/setup.sh start <work-dir> <hosts> [<prefix> <port>]
#   bench/capistrano/setup.sh stop <work-dir>
#
# start prints one line per host: "<address> <user> <deploy_to>". Needs root.
# (not HOSTS: Capistrano reads that as a host filter). Push with:
#   cd <work-dir>/project && BENCH_HOSTS=<n> TARBALL=<file> RELEASE=<name> cap bench strata_bench:push
# Defaults: prefix 127.81.100 (hosts 17.. on the next /24), port 18122.
set -eu

cmd=$1
work=$2

stop() {
  for pid in "$work"/sshd-*.pid; do
    [ -f "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

hosts=$3
prefix=${4:-127.81.100}
port=${5:-18122}
base=${prefix%.*}
third=${prefix##*.}

if ! command -v cap >/dev/null || [ ! -x /usr/sbin/sshd ]; then
  apt-get install -y -qq capistrano openssh-server >/dev/null
fi
mkdir -p "$work/keys" "$work/home" /run/sshd
# sshd reads authorized_keys as the user, who must reach its home (parents of <work-dir> too).
chmod 711 "$work" "$work/home"
# ECDSA keys, the client's in PEM: Debian's net-ssh has no ed25519 without extra
# gems and cannot load an OpenSSH-format RSA key under OpenSSL 3; SSHKit then
# connects to nothing and says nothing.
[ -f "$work/keys/client" ] || ssh-keygen -q -m PEM -t ecdsa -b 256 -N "" -f "$work/keys/client"
[ -f "$work/keys/host" ] || ssh-keygen -q -t ecdsa -b 256 -N "" -f "$work/keys/host"

address_of() { # host number (1-based) -> address
  n=$1
  echo "$base.$((third + (n - 1) / 16)).$(((n - 1) % 16 + 1))"
}

i=1
while [ "$i" -le "$hosts" ]; do
  user="stcap$i"
  home="$work/home/$user"
  id "$user" >/dev/null 2>&1 || useradd --home-dir "$home" --no-create-home --shell /bin/sh "$user"
  usermod --home "$home" --password '*' "$user" # sshd without PAM refuses a locked ("!") account
  mkdir -p "$home/.ssh" "$home/app/releases"
  cp "$work/keys/client.pub" "$home/.ssh/authorized_keys"
  chown -R "$user:$user" "$home"
  chmod 700 "$home/.ssh"
  i=$((i + 1))
done

stop
instance=0
first=1
while [ "$first" -le "$hosts" ]; do
  config="$work/sshd-$instance.conf"
  {
    echo "Port $port"
    last=$((first + 15))
    [ "$last" -le "$hosts" ] || last=$hosts
    n=$first
    while [ "$n" -le "$last" ]; do
      echo "ListenAddress $(address_of "$n")"
      n=$((n + 1))
    done
    echo "HostKey $work/keys/host"
    echo "PidFile $work/sshd-$instance.pid"
    echo "AuthorizedKeysFile .ssh/authorized_keys"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "UsePAM no"
    echo "StrictModes no"
    echo "MaxStartups 100"
    echo "MaxSessions 100"
  } >"$config"
  /usr/sbin/sshd -f "$config"
  instance=$((instance + 1))
  first=$((first + 16))
done

# The Capistrano project: one stage whose servers are the hosts above, and one
# task that pushes the tarball as Capistrano does without an SCM: upload it,
# unpack it into a new release folder, switch `current`, restart.
mkdir -p "$work/project/config/deploy"
cat >"$work/project/Capfile" <<'EOF'
require "capistrano/setup"
require "capistrano/deploy" # the stage tasks name deploy's; its SCM is never used here
require "capistrano/scm/git"
install_plugin Capistrano::SCM::Git, load_hooks: false
namespace :strata_bench do
  desc "Push the prebuilt tarball to every host, unpack it and switch to it"
  task :push do
    tarball = ENV.fetch("TARBALL")
    stamp = ENV.fetch("RELEASE")
    on roles(:app), in: :parallel do
      release = "#{fetch(:deploy_to)}/releases/#{stamp}"
      upload! tarball, "#{release}.tar.gz"
      execute :mkdir, "-p", release
      execute :tar, "-xzf", "#{release}.tar.gz", "-C", release
      execute :rm, "-f", "#{release}.tar.gz"
      execute :ln, "-sfn", "releases/#{stamp}", "#{fetch(:deploy_to)}/current.next"
      execute :mv, "-T", "#{fetch(:deploy_to)}/current.next", "#{fetch(:deploy_to)}/current"
      execute :touch, "#{release}/restart.txt"
    end
  end
end
EOF
: >"$work/project/config/deploy.rb"
{
  echo "set :ssh_options, { keys: [\"$work/keys/client\"], auth_methods: [\"publickey\"],"
  echo "  port: $port, verify_host_key: :never, user_known_hosts_file: \"/dev/null\" }"
  echo "hosts = ["
  i=1
  while [ "$i" -le "$hosts" ]; do
    echo "  [\"$(address_of "$i")\", \"stcap$i\"],"
    i=$((i + 1))
  done
  echo "]"
  echo "hosts.first(Integer(ENV.fetch(\"BENCH_HOSTS\", hosts.size.to_s))).each do |address, user|"
  echo "  server address, user: user, roles: %w[app]"
  echo "end"
  echo "set :deploy_to, \"app\""
} >"$work/project/config/deploy/bench.rb"

i=1
while [ "$i" -le "$hosts" ]; do
  echo "$(address_of "$i") stcap$i $work/home/stcap$i/app"
  i=$((i + 1))
done
