#!/usr/bin/env bash
# The whole pipeline on the embedded defaults: a private Mosquitto, the gateway
# (SQLite), the API and a simulated site. Extra arguments go to `gridwatch demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
unset PYTHONDONTWRITEBYTECODE  # the demo starts several GridWatch processes: compile the sources once
exec .venv/bin/gridwatch demo "$@"
