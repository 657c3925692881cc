#!/usr/bin/env bash
# End-to-end suite: bff (debug build) x2 + Redis + oidc-provider + headless
# Chromium. Installs what is missing, builds, runs; the last line is
# "N passed, N failed, N skipped"; exits non-zero on any failure.
#
#   tests/e2e/run.sh
#   E2E_SKIP=refresh,backchannel tests/e2e/run.sh   # steps whose bff feature is not built yet
#
# Screenshots and logs: target/e2e/. Everything listens on 127.0.0.1 and
# stops by itself (suite timeout 240 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

missing=()
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# oidc-provider 9 needs node >= 20.19 (require(esm)); Debian 12's nodejs is 18.
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "node >= 20.19 is required (found $(node --version))"; echo "0 passed, 1 failed"; exit 1; }

# Never download a browser: playwright-core drives the system Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked --quiet
export BFF_BIN="${BFF_BIN:-$PWD/target/debug/bff}"
[ -n "${CHROMIUM:-}" ] || export CHROMIUM="$(command -v chromium)"

export E2E_STARTED="$started"
mkdir -p target
echo "suite stderr (provider warnings, errors): target/e2e-stderr.log"
exec node tests/e2e/suite.mjs 2>target/e2e-stderr.log
