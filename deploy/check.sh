#!/usr/bin/env bash
# Offline checks of deploy/, docker-compose.yml and keycloak/realm.json.
#   deploy/check.sh            (prints "N passed, N failed"; non-zero on failure)
# Needs python3 (+venv); installs PyYAML and kubernetes-validate (bundled
# Kubernetes JSON schemas, no network at validation time) from PyPI into
# target/deploy-check-venv. Renders kustomizations with `kubectl kustomize`
# when kubectl is present, and runs `docker compose config -q` (or the
# standalone `docker-compose`) when either is present; each is reported as
# skipped otherwise. Installs promtool (Debian package `prometheus`) when
# missing, for the alert rules, their unit tests and the dashboard's PromQL;
# runs one cargo test (bff's exported metrics vs the dashboard and alerts).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/deploy-check-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import yaml, kubernetes_validate' 2>/dev/null; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check 'pyyaml>=6' 'kubernetes-validate==1.37.0'
fi
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
exec "$venv/bin/python" deploy/check.py "$@"
