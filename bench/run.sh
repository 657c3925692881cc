#!/usr/bin/env bash
# bff benchmark: upstream direct vs nginx reverse proxy vs bff (session,
# 401, no-auth route), Redis bytes per session, bff RSS from 1k to 100k
# sessions, and how fast a revocation reaches another pod's session cache
# under load (bench/revocation.mjs). Loopback only, bounded (default 3 reps
# x 8 s per variant: about 20 minutes, plus the profile-guided build).
# Results: target/bench/results.md (also printed).
#
#   bench/run.sh
#   BENCH_REPS=3 BENCH_SECONDS=5 BENCH_SESSIONS=200 bench/run.sh   # quicker
#   BENCH_PGO=0 bench/run.sh       # the plain build only, no PGO build
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package starts a system nginx on port 80; the bench runs its own.
  command -v systemctl >/dev/null 2>&1 && systemctl stop nginx 2>/dev/null || true
fi
(cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >&2
cargo build --profile dist --locked --quiet
# The binary of record is the profile-guided build (deploy/pgo-build.sh,
# about 15 minutes from scratch); the plain build runs beside it as (ix).
# BENCH_PGO=0 skips it and measures the plain build alone.
if [ "${BENCH_PGO:-1}" != 0 ] && [ -z "${BFF_BIN:-}" ]; then
  bash deploy/pgo-build.sh
  export BFF_BIN=$PWD/target/pgo/bff
  export BENCH_BUILD_LABEL='profile-guided build (`deploy/pgo-build.sh`: `--profile dist`, thin LTO, trained on the proxy paths)'
  export BENCH_COMPARE_BIN="${BENCH_COMPARE_BIN:-$PWD/target/dist/bff}"
  export BENCH_COMPARE_LABEL="${BENCH_COMPARE_LABEL:-plain build (\`cargo build --profile dist\`, no PGO)}"
fi
export BFF_BIN="${BFF_BIN:-$PWD/target/dist/bff}"
node bench/bench.mjs
# Revocation reaching the other pod's cache under load: target/bench/revocation.md.
node bench/revocation.mjs
