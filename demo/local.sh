#!/usr/bin/env bash
# The demo stack of docker-compose.yml without Docker, from Debian/Ubuntu
# packages, all on 127.0.0.1:
#
#   browser ──▶ nginx (lb, round robin) ──▶ bff1 / bff2 ──▶ demo/api.py (SPA + /api/whoami)
#                                            │    │
#              oidc-provider (node, alice/bob)    redis-server (password, shared sessions)
#
#   demo/local.sh              then open http://localhost:8080, log in as alice / alice
#   DEMO_PORT=8181 demo/local.sh
#
# As root it installs missing Debian packages (nginx, redis-server, nodejs,
# npm, python3, curl); it runs `npm ci` in tests/e2e for oidc-provider and
# `cargo build` for bff (unless BFF_BIN names a binary; DEMO_RELEASE=1
# builds and runs the release binary). It prints "ready: <url>" once
# everything answers; Ctrl-C (SIGINT) or SIGTERM stops every process it
# started, and one that dies by itself is reported while the rest goes on.
# Settings (environment; relative paths are from the repository root):
#
#   DEMO_PORT          the load balancer, the app's URL (default 8080)
#   DEMO_OP_PORT DEMO_BFF1_PORT DEMO_BFF2_PORT DEMO_ADMIN1_PORT
#   DEMO_ADMIN2_PORT DEMO_REDIS_PORT DEMO_API_PORT   (default: free ports)
#   DEMO_ACCESS_TOKEN_TTL  access token lifetime in s (default 300, as Keycloak)
#   DEMO_DIR           logs, generated config, pids, ports.env (default target/demo-local)
#   BFF_LOG_FORMAT, RUST_LOG   bff logging (default pretty, info,bff=debug)
#
# EVERY SECRET HERE IS THE PUBLIC DEMO VALUE FROM docker-compose.yml.
# Functions run from traps and from wait_for's "$@" are reachable:
# shellcheck disable=SC2317
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CLIENT_SECRET=demo-bff-secret-c1299d6492cddadff9a0002d6c802ef3
REDIS_PASSWORD=demo-redis-62d1022b4c9962181870b0e4
SESSION_KEYS='k1:DXv8/vxqmxRInu9lPQ7SNZv2hbsWeDg/y5YhMyqCQyk='

RUN=${DEMO_DIR:-$ROOT/target/demo-local}
PORT=${DEMO_PORT:-8080}
PUBLIC_URL=http://localhost:$PORT

# Never fails: cleanup must go on when nobody reads stdout any more.
say() { printf '%s\n' "$*" 2>/dev/null || true; }
die() { printf 'local.sh: %s\n' "$*" >&2; exit 1; }

# --- packages -----------------------------------------------------------------

find_nginx() { command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
find_nginx >/dev/null || missing+=(nginx)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: sudo apt-get install ${missing[*]}"
  say "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
NGINX=$(find_nginx)
# oidc-provider 9 needs node >= 20.19 (Debian 12's nodejs is 18).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "node >= 20.19 is required (found $(node --version)); see https://nodejs.org or NodeSource packages"
if [ ! -f tests/e2e/node_modules/oidc-provider/package.json ]; then
  say "installing oidc-provider (npm ci in tests/e2e)"
  (cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -n "${BFF_BIN:-}" ]; then
  [ -x "$BFF_BIN" ] || die "BFF_BIN=$BFF_BIN is not an executable"
  BIN=$BFF_BIN
elif [ "${DEMO_RELEASE:-}" = 1 ]; then
  say "building bff (cargo build --release)"
  cargo build --locked --quiet --release
  BIN=$ROOT/target/release/bff
else
  command -v cargo >/dev/null || die "cargo not found: install Rust, or set BFF_BIN to a bff binary"
  say "building bff (cargo build)"
  cargo build --locked --quiet
  BIN=$ROOT/target/debug/bff
fi
# Only the settings below reach bff, none from the calling shell.
while read -r var; do
  case $var in BFF_*) unset "$var" ;; esac
done < <(compgen -e)

# --- run dir and ports ----------------------------------------------------------

mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
if [ -f "$RUN/local.pid" ] && kill -0 "$(cat "$RUN/local.pid")" 2>/dev/null; then
  die "already running as pid $(cat "$RUN/local.pid") with $RUN; stop it or set DEMO_DIR"
fi
rm -rf "$RUN/nginx"
rm -f "$RUN"/*.log "$RUN/pids" "$RUN/ports.env" "$RUN/bff.toml"
mkdir -p "$RUN/nginx/tmp"
echo $$ >"$RUN/local.pid"

# Ports that are free now: bound together (so all differ), then released.
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
port_free() {
  python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
read -r P_OP P_BFF1 P_BFF2 P_ADMIN1 P_ADMIN2 P_REDIS P_API <<<"$(free_ports 7)"
P_OP=${DEMO_OP_PORT:-$P_OP} P_BFF1=${DEMO_BFF1_PORT:-$P_BFF1} P_BFF2=${DEMO_BFF2_PORT:-$P_BFF2}
P_ADMIN1=${DEMO_ADMIN1_PORT:-$P_ADMIN1} P_ADMIN2=${DEMO_ADMIN2_PORT:-$P_ADMIN2}
P_REDIS=${DEMO_REDIS_PORT:-$P_REDIS} P_API=${DEMO_API_PORT:-$P_API}
all_ports=("$PORT" "$P_OP" "$P_BFF1" "$P_BFF2" "$P_ADMIN1" "$P_ADMIN2" "$P_REDIS" "$P_API")
[ "$(printf '%s\n' "${all_ports[@]}" | sort -u | wc -l)" = ${#all_ports[@]} ] \
  || die "two services on one port: ${all_ports[*]}"
for p in "${all_ports[@]}"; do
  port_free "$p" || die "port $p on 127.0.0.1 is in use (the app: DEMO_PORT; others: see the header of $0)"
done
ISSUER=http://127.0.0.1:$P_OP

# --- processes ----------------------------------------------------------------------

pids=() names=()
# Runs a command in the background, output to $RUN/<name>.log, in its own
# process group (job control on just for the start), which cleanup kills as
# a whole; the terminal's Ctrl-C reaches only this script and its trap.
start() { # name command...
  local name=$1
  shift
  set -m
  "$@" </dev/null >"$RUN/$name.log" 2>&1 &
  set +m
  pids+=("$!") names+=("$name")
  echo "$name $!" >>"$RUN/pids"
}
alive() { kill -0 -- "-$1" 2>/dev/null; }
# No `local` here: after a Ctrl-C inside a function, bash may no longer
# see a function context, and a failing `local` would end the cleanup.
cleanup() { # [exit status]
  rc=${1:-$?}
  set +e
  trap - EXIT INT TERM HUP
  trap '' PIPE
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping ${names[*]}"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${pids[i]}" 2>/dev/null || true; done
    deadline=$((SECONDS + 15))
    for i in "${!pids[@]}"; do
      while alive "${pids[i]}" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
      if alive "${pids[i]}"; then
        say "${names[i]} did not stop in time: SIGKILL"
        kill -KILL -- "-${pids[i]}" 2>/dev/null || true
      fi
    done
    wait 2>/dev/null || true
  fi
  if [ "$(cat "$RUN/local.pid" 2>/dev/null)" = $$ ]; then rm -f "$RUN/local.pid"; fi
  say "stopped (logs in $RUN)"
  exit "$rc"
}
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM
trap 'cleanup 129' HUP

# wait_for name seconds probe...: polls the probe until it succeeds.
wait_for() {
  local name=$1 deadline=$((SECONDS + $2)) i pid=
  shift 2
  for i in "${!names[@]}"; do [ "${names[i]}" = "$name" ] && pid=${pids[i]}; done
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf 'local.sh: %s exited; the end of %s:\n' "$name" "$RUN/$name.log" >&2
      tail -n 25 "$RUN/$name.log" >&2
      exit 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name is not ready after $2 s; see $RUN/$name.log"
    sleep 0.2
  done
}
redis_ping() { [ "$(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$P_REDIS" ping)" = PONG ]; }
http_status() { [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$2")" = "$1" ]; }

say "starting redis :$P_REDIS, provider :$P_OP, demo-api :$P_API (run dir $RUN)"
# Password as in compose; in memory only, so nothing is left behind.
start redis redis-server --bind 127.0.0.1 --port "$P_REDIS" --requirepass "$REDIS_PASSWORD" \
  --save '' --appendonly no --dir "$RUN" --protected-mode yes
start provider env DEMO_OP_PORT="$P_OP" DEMO_BFF_ORIGIN="$PUBLIC_URL" DEMO_CLIENT_SECRET="$CLIENT_SECRET" \
  DEMO_ACCESS_TOKEN_TTL="${DEMO_ACCESS_TOKEN_TTL:-300}" node demo/local-provider.mjs
start demo-api env DEMO_API_HOST=127.0.0.1 DEMO_API_PORT="$P_API" PYTHONUNBUFFERED=1 \
  PYTHONDONTWRITEBYTECODE=1 python3 demo/api.py
wait_for redis 20 redis_ping
wait_for provider 30 curl -fsS -m 5 "$ISSUER/.well-known/openid-configuration"
wait_for demo-api 20 curl -fsS -m 5 "http://127.0.0.1:$P_API/healthz"

# demo/bff.toml with the demo API's local address.
{
  echo "# generated by demo/local.sh from demo/bff.toml"
  sed "s#http://demo-api:8000#http://127.0.0.1:$P_API#g" demo/bff.toml
} >"$RUN/bff.toml"
if ! grep -q "127.0.0.1:$P_API" "$RUN/bff.toml" || grep -q 'demo-api:' "$RUN/bff.toml"; then
  die "demo/bff.toml has no upstream http://demo-api:8000 any more; update demo/local.sh"
fi

# The bff settings of docker-compose.yml, with local addresses.
bff_env=(
  BFF_CONFIG="$RUN/bff.toml" BFF_PUBLIC_URL="$PUBLIC_URL" BFF_ISSUER_URL="$ISSUER"
  BFF_CLIENT_ID=bff BFF_CLIENT_SECRET="$CLIENT_SECRET" BFF_SCOPES="openid profile email"
  BFF_REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$P_REDIS/0" BFF_SESSION_KEYS="$SESSION_KEYS"
  BFF_SESSION_TTL=8h BFF_INSECURE_DEV_COOKIES=true BFF_POST_LOGOUT_REDIRECT="$PUBLIC_URL/auth/logged-out"
  BFF_LOG_FORMAT="${BFF_LOG_FORMAT:-pretty}" RUST_LOG="${RUST_LOG:-info,bff=debug}"
  # Ctrl-C stops the whole stack at once: no readiness delay for the LB to
  # notice (nginx here has no health checks), a short grace for requests.
  BFF_SHUTDOWN_DELAY=0s BFF_SHUTDOWN_GRACE=5s
)
say "starting bff1 :$P_BFF1 (admin :$P_ADMIN1), bff2 :$P_BFF2 (admin :$P_ADMIN2): $BIN"
start bff1 env "${bff_env[@]}" BFF_LISTEN="127.0.0.1:$P_BFF1" BFF_ADMIN_LISTEN="127.0.0.1:$P_ADMIN1" "$BIN"
start bff2 env "${bff_env[@]}" BFF_LISTEN="127.0.0.1:$P_BFF2" BFF_ADMIN_LISTEN="127.0.0.1:$P_ADMIN2" "$BIN"
# /readyz: the provider is discovered and Redis answers.
wait_for bff1 60 curl -fsS -m 5 "http://127.0.0.1:$P_ADMIN1/readyz"
wait_for bff2 60 curl -fsS -m 5 "http://127.0.0.1:$P_ADMIN2/readyz"

# deploy/nginx-lb.conf with the two local pods instead of Docker's DNS names.
sed -e '/^[[:space:]]*#/d' -e '/^resolver /d' \
  -e "s/server bff1:8080 resolve /server 127.0.0.1:$P_BFF1 /" \
  -e "s/server bff2:8080 resolve /server 127.0.0.1:$P_BFF2 /" \
  -e "s/listen 8080;/listen 127.0.0.1:$PORT;/" deploy/nginx-lb.conf >"$RUN/nginx/lb.conf"
lb_conf_ok() {
  grep -q "server 127.0.0.1:$P_BFF1 " "$1" && grep -q "server 127.0.0.1:$P_BFF2 " "$1" \
    && grep -q "listen 127.0.0.1:$PORT;" "$1" && ! grep -Eq 'bff[12]:|resolve' "$1"
}
lb_conf_ok "$RUN/nginx/lb.conf" || die "deploy/nginx-lb.conf no longer has the expected shape; update demo/local.sh"
cat >"$RUN/nginx/nginx.conf" <<EOF
# generated by demo/local.sh: the http {} around deploy/nginx-lb.conf (lb.conf)
worker_processes 1;
error_log $RUN/lb-error.log notice;
events { worker_connections 512; }
http {
  # upstream= names the pod that answered (127.0.0.1:$P_BFF1 = bff1, :$P_BFF2 = bff2).
  log_format demo '\$remote_addr [\$time_local] "\$request" \$status upstream=\$upstream_addr \$request_time';
  access_log $RUN/lb-access.log demo;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  include $RUN/nginx/lb.conf;
}
EOF
nginx_args=(-p "$RUN/nginx/" -c "$RUN/nginx/nginx.conf" -g "daemon off; pid $RUN/nginx/nginx.pid;")
# -e (nginx >= 1.19.5): the start-up error log too, not /var/log/nginx.
if "$NGINX" -h 2>&1 | grep -q -- '-e filename'; then nginx_args=(-e "$RUN/lb-error.log" "${nginx_args[@]}"); fi
"$NGINX" -t -q "${nginx_args[@]}" 2>"$RUN/lb.log" || { cat "$RUN/lb.log" >&2; die "nginx rejected $RUN/nginx/nginx.conf"; }
say "starting lb (nginx) :$PORT, round robin over bff1 and bff2"
start lb "$NGINX" "${nginx_args[@]}"
wait_for lb 20 http_status 401 "http://127.0.0.1:$PORT/auth/session"

cat >"$RUN/ports.env" <<EOF
DEMO_URL=$PUBLIC_URL
DEMO_PORT=$PORT
DEMO_OP_PORT=$P_OP
DEMO_BFF1_PORT=$P_BFF1
DEMO_BFF2_PORT=$P_BFF2
DEMO_ADMIN1_PORT=$P_ADMIN1
DEMO_ADMIN2_PORT=$P_ADMIN2
DEMO_REDIS_PORT=$P_REDIS
DEMO_API_PORT=$P_API
EOF
say ""
say "  provider  $ISSUER (users alice / alice, bob / bob)"
say "  bff1      http://127.0.0.1:$P_BFF1 (admin http://127.0.0.1:$P_ADMIN1/readyz)"
say "  bff2      http://127.0.0.1:$P_BFF2 (admin http://127.0.0.1:$P_ADMIN2/readyz)"
say "  logs      $RUN/*.log (lb-access.log: upstream= is the pod)"
say ""
say "ready: $PUBLIC_URL"
say "  open it and log in as alice / alice; Ctrl-C stops everything"

# Until Ctrl-C. A process that dies is reported and the rest goes on, as
# with compose (stop one bff and the lb sends everything to the other).
set +e
declare -A reported=()
while [ ${#reported[@]} -lt ${#pids[@]} ]; do
  wait -n
  rc=$?
  for i in "${!pids[@]}"; do
    if [ -z "${reported[$i]:-}" ] && ! kill -0 "${pids[i]}" 2>/dev/null; then
      reported[$i]=1
      say "${names[i]} exited (status $rc, see $RUN/${names[i]}.log); the rest keeps running, Ctrl-C stops it"
    fi
  done
done
say "every process has exited"
exit 1
