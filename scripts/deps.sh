#!/usr/bin/env bash
# Makes sure what Cobra Space needs on this machine is there and running:
# PostgreSQL (5432), Redis (6379) and NATS with JetStream (4222), the
# redis-server binary (the Redis fault test runs its own), protoc for
# `make proto`, and Chromium for the browser tests (with --browser).
#
# For each service: use it when it answers on its port; start it when it is
# installed but down; install it with apt when missing and we are root;
# otherwise explain what is wrong and exit non-zero.
set -euo pipefail

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

say() { printf 'deps: %s\n' "$*" >&2; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() {
  for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done
  return 1
}

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "$* missing and not root: install it (apt-get install $*) or start it, then retry"
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  up 5432 && return 0
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql
  fi
  say "starting PostgreSQL"
  local ver
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_up 5432 || { say "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1; }
  # Local development trusts loopback connections as the machine image does.
  if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    say "enabling trust auth for 127.0.0.1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  fi
}

ensure_redis() {
  # The binary is needed even when a server already answers on 6379: the
  # Redis fault test (F5) starts and kills a private redis-server.
  command -v redis-server >/dev/null || apt_install redis-server
  up 6379 && return 0
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "${REDIS_DIR:-/var/lib/redis}" --logfile "${REDIS_LOG:-/var/log/redis/ci.log}"
  wait_up 6379 || { say "Redis did not come up on 127.0.0.1:6379"; exit 1; }
}

ensure_nats() {
  up 4222 && return 0
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
  say "starting NATS (JetStream)"
  mkdir -p /var/lib/nats-server 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_up 4222 || { say "NATS did not come up on 127.0.0.1:4222"; exit 1; }
}

ensure_postgres
ensure_redis
ensure_nats
command -v protoc >/dev/null || apt_install protobuf-compiler
command -v psql >/dev/null || apt_install postgresql-client
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null; then
  # Korean fonts so the browser tests' screenshots show the UI's Hangul text.
  apt_install chromium fonts-noto-cjk
fi
say "PostgreSQL, Redis and NATS are up"
