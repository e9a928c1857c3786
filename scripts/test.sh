#!/usr/bin/env bash
# The whole test suite, against real servers (Mosquitto started by the tests,
# PostgreSQL at 127.0.0.1:5432 when it answers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
