#!/usr/bin/env bash
# The whole test suite, against real servers (Mosquitto started by the tests,
# PostgreSQL at 127.0.0.1:5432 when it answers). Extra arguments go to pytest
# (then only what they name runs, in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
py=.venv/bin/python
[ $# -gt 0 ] && exec "$py" -m pytest "$@"

# In-process tests (stores, API, contracts, site checks; every clock injected) run on two
# workers: they only need CPU. Tests with real processes, brokers, browsers and outages keep
# the machine to themselves: their deadlines are real time.
parallel=(tests/contracts tests/site tests/gateway tests/api)
status=0
"$py" -m pytest -n 2 --dist loadfile "${parallel[@]}" || status=$?
"$py" -m pytest $(printf -- '--ignore=%s ' "${parallel[@]}") tests || status=$?
exit $status
