#!/usr/bin/env bash
# Profile-guided build of bff (PGO): writes target/pgo/bff.
#
#   deploy/pgo-build.sh            # ~15 min on 2 cores from scratch
#
# 1. Builds bff and examples/seed_sessions.rs instrumented
#    (`-Cprofile-generate`), in target/pgo-gen.
# 2. Trains the instrumented bff on its hot paths, with real parts on
#    127.0.0.1: a redis-server, an nginx upstream, 2,000 real sealed
#    sessions seeded into Redis, and wrk over one hot session, the sessions
#    in rotation (bench/rotate.lua) and an auth = "none" route, at RUST_LOG
#    warn and then info (the access log). No provider is needed: seeded
#    sessions have valid tokens, so nothing logs in or refreshes.
# 3. Merges the profile with llvm-profdata (rustup's llvm-tools, the same
#    LLVM as rustc).
# 4. Builds bff with `-Cprofile-use`, in target/pgo-use, and copies it to
#    target/pgo/bff.
# Code the training does not run (logins, refreshes, h2, WebSockets) is
# compiled as cold code: the same behaviour, optimised for size.
#
# Needs cargo and rustup, redis-server, redis-cli, nginx and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/pgo
work=$out/train
rm -rf "$out/raw" "$work"
mkdir -p "$out/raw" "$work/nginx/logs" "$work/nginx/tmp"

for tool in redis-server redis-cli nginx wrk; do
  command -v "$tool" >/dev/null || { echo "pgo-build: $tool is missing" >&2; exit 1; }
done
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata" ] || rustup component add llvm-tools
[ -x "$profdata" ] || { echo "pgo-build: no llvm-profdata at $profdata" >&2; exit 1; }

echo "pgo-build: 1/4 instrumented build" >&2
# Build scripts and proc-macros are instrumented too; what they would write
# while compiling goes nowhere (LLVM_PROFILE_FILE), as does the seeder's.
# Only the trained bff processes write to $out/raw. The seeder is a second
# cargo run: built together, an example unifies the dev-dependencies'
# features into bff's libraries, which renames their symbols, and a profile
# of those names would not match the optimised build's.
instrumented() {
  LLVM_PROFILE_FILE=/dev/null RUSTFLAGS="-Cprofile-generate=$out/unused" \
    CARGO_TARGET_DIR=$root/target/pgo-gen cargo build --profile dist --locked --quiet "$@"
}
instrumented --bin bff
instrumented --example seed_sessions
gen=$root/target/pgo-gen/dist

# A free loopback port (nothing answers on it).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
# Waits until something answers on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    sleep 0.1
  done
  echo "pgo-build: nothing listens on port $1" >&2
  exit 1
}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

echo "pgo-build: 2/4 training" >&2
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"$work/redis.log" 2>&1 &
pids+=($!)
upstream_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$upstream_port;
    default_type application/json;
    location / { return 200 '{"ok":true,"items":[1,2,3]}\n'; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$redis_port"
wait_port "$upstream_port"

issuer="http://127.0.0.1:$(free_port)"
keys="k1:$(head -c 32 /dev/urandom | base64)"
# The seeder is instrumented too; its profile is not wanted.
BFF_SESSION_KEYS=$keys LLVM_PROFILE_FILE=/dev/null "$gen/examples/seed_sessions" \
  --count 2000 --cookies "$work/cookies.txt" --issuer "$issuer" \
  | redis-cli -p "$redis_port" --pipe >"$work/seed.log"
grep -q 'errors: 0,' "$work/seed.log" || { cat "$work/seed.log" >&2; exit 1; }
cat >"$work/bff.toml" <<EOF
[[routes]]
prefix = "/pub/"
upstream = "http://127.0.0.1:$upstream_port"
auth = "none"

[[routes]]
prefix = "/api/"
upstream = "http://127.0.0.1:$upstream_port"
auth = "required"
EOF

# One instrumented bff at RUST_LOG=$1 under the three loads; it must exit
# cleanly (SIGTERM, no drain delay), which is when it writes its profile.
train() {
  local port admin pid cookie
  port=$(free_port)
  admin=$(free_port)
  BFF_CONFIG=$work/bff.toml BFF_LISTEN=127.0.0.1:$port BFF_ADMIN_LISTEN=127.0.0.1:$admin \
    BFF_PUBLIC_URL=http://127.0.0.1:$port BFF_ISSUER_URL=$issuer BFF_CLIENT_ID=bff \
    BFF_CLIENT_SECRET=pgo-training BFF_REDIS_URL=redis://127.0.0.1:$redis_port \
    BFF_SESSION_KEYS=$keys BFF_INSECURE_DEV_COOKIES=true BFF_LOG_FORMAT=json \
    BFF_SHUTDOWN_DELAY=0s BFF_SESSION_CACHE_SIZE=64MiB RUST_LOG=$1 \
    LLVM_PROFILE_FILE="$out/raw/bff-$1.profraw" "$gen/bff" >"$work/bff-$1.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_port "$port"
  cookie=$(head -n 1 "$work/cookies.txt")
  local url=http://127.0.0.1:$port
  wrk -t2 -c16 -d6s -H "Cookie: bff=$cookie" "$url/api/train" >"$work/wrk-session-$1.txt"
  wrk -t2 -c16 -d6s "$url/pub/train" >"$work/wrk-none-$1.txt"
  wrk -t2 -c16 -d6s -s bench/rotate.lua "$url/api/train" -- "$work/cookies.txt" bff \
    >"$work/wrk-rotation-$1.txt"
  if grep -q 'Non-2xx' "$work"/wrk-*-"$1".txt; then
    echo "pgo-build: training requests failed (see $work)" >&2
    exit 1
  fi
  kill -TERM "$pid"
  wait "$pid" || { echo "pgo-build: bff exited $? (see $work/bff-$1.log)" >&2; exit 1; }
}
train warn
train info

echo "pgo-build: 3/4 merging the profile" >&2
"$profdata" merge -o "$out/bff.profdata" "$out/raw/bff-warn.profraw" "$out/raw/bff-info.profraw"

echo "pgo-build: 4/4 optimised build" >&2
RUSTFLAGS="-Cprofile-use=$out/bff.profdata" CARGO_TARGET_DIR=$root/target/pgo-use \
  cargo build --profile dist --locked --quiet --bin bff
install -m 0755 "$root/target/pgo-use/dist/bff" "$out/bff"
echo "pgo-build: target/pgo/bff" >&2
