#!/usr/bin/env bash
# `make run`: the whole Cobra Space system on this machine — databases and
# migrations, a development key pair, the user, post and chat services, two
# gateway replicas and demo data. Logs stream here, prefixed by process name.
# Ctrl-C stops everything this script started, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.run"            # git-ignored: keys and logs of local runs
mkdir -p "$state" bin

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
PG_BASE=${PG_ADMIN_URL%%/postgres\?*}
GATEWAY_PORTS=${GATEWAY_PORTS:-"8080 8081"}

say() { printf '\033[1mrun:\033[0m %s\n' "$*"; }

for p in 9001 9002 9003 $GATEWAY_PORTS; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    say "port $p is already in use — is another 'make run' still running? Stop it first."; exit 1
  fi
done

say "building binaries into bin/"
go build -o bin/ ./services/user ./services/post ./services/chat ./services/gateway ./platform/cmd/keygen ./services/post/cmd/demodata

say "creating databases cobra_user, cobra_post, cobra_chat (if missing)"
for db in cobra_user cobra_post cobra_chat; do
  psql "$PG_ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db"
done

if [ ! -f "$state/jwt.key" ]; then
  say "generating a development Ed25519 key pair in .run/ (never used outside this machine)"
  bin/keygen "$state/jwt.key" "$state/jwt.pub"
fi

if [ ! -f "$state/service.key" ]; then
  say "generating a development service key in .run/ (services prove who calls them with it)"
  bin/keygen -service-key "$state/service.key"
fi

if [ -z "${VAPID_PRIVATE_KEY:-}" ] && [ ! -f "$state/vapid.env" ]; then
  say "generating a development Web Push (VAPID) key pair in .run/ (set VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY to use your own)"
  bin/keygen -vapid "$state/vapid.env"
fi
if [ -z "${VAPID_PRIVATE_KEY:-}" ]; then
  # shellcheck disable=SC1091 # written just above
  . "$state/vapid.env"
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  say "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  say "stopped"
}
trap cleanup INT TERM EXIT

# start NAME ENV... — runs bin/NAME with the given env, logs prefixed by NAME.
start() {
  local name=$1 bin=$2; shift 2
  # Process substitution keeps $! the service's own pid, so cleanup stops it.
  env "$@" "bin/$bin" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

common=(REDIS_URL=redis://127.0.0.1:6379/0 NATS_URL=nats://127.0.0.1:4222 JWT_PUBLIC_KEY_FILE="$state/jwt.pub" SERVICE_KEY_FILE="$state/service.key" LOG_LEVEL=${LOG_LEVEL:-info})
start user user "${common[@]}" GRPC_ADDR=127.0.0.1:9001 ADMIN_ADDR=127.0.0.1:9101 \
  DATABASE_URL="$PG_BASE/cobra_user?sslmode=disable" JWT_PRIVATE_KEY_FILE="$state/jwt.key" \
  VAPID_PUBLIC_KEY="${VAPID_PUBLIC_KEY:-}" VAPID_PRIVATE_KEY="${VAPID_PRIVATE_KEY:-}" VAPID_SUBJECT="${VAPID_SUBJECT:-mailto:dev@localhost}"
start chat chat "${common[@]}" GRPC_ADDR=127.0.0.1:9003 ADMIN_ADDR=127.0.0.1:9103 \
  DATABASE_URL="$PG_BASE/cobra_chat?sslmode=disable" USER_SERVICE_ADDR=127.0.0.1:9001
start post post "${common[@]}" GRPC_ADDR=127.0.0.1:9002 ADMIN_ADDR=127.0.0.1:9102 \
  DATABASE_URL="$PG_BASE/cobra_post?sslmode=disable" CHAT_SERVICE_ADDR=127.0.0.1:9003
i=0
origins=$(for p in $GATEWAY_PORTS; do printf 'http://localhost:%s,http://127.0.0.1:%s,' "$p" "$p"; done)
for p in $GATEWAY_PORTS; do
  start "gateway-$p" gateway "${common[@]}" HTTP_ADDR=":$p" ADMIN_ADDR="127.0.0.1:$((9180 + i))" \
    USER_SERVICE_ADDR=127.0.0.1:9001 POST_SERVICE_ADDR=127.0.0.1:9002 CHAT_SERVICE_ADDR=127.0.0.1:9003 \
    ALLOWED_ORIGINS="${origins%,}" GATEWAY_ID="gateway-$p"
  i=$((i + 1))
done

first=${GATEWAY_PORTS%% *}
say "loading demo data (idempotent)"
# demodata waits for the gateway (and through it the services) to answer.
bin/demodata -gateway "http://127.0.0.1:$first" -wait 90s || say "demo data failed; the system is still running"

echo
say "Cobra Space is running:"
for p in $GATEWAY_PORTS; do say "  open http://localhost:$p/   (gateway replica on :$p)"; done
say "  demo accounts: see README.md (Demo data). Ctrl-C stops everything."
wait
