#!/usr/bin/env bash
# The whole test suite, against real servers (Mosquitto started by the tests,
# PostgreSQL at 127.0.0.1:5432 when it answers). Extra arguments go to pytest.
#
# Three workers (pytest-xdist) on a two-core machine, a test module's tests on the same worker
# (module-scoped servers and stores): the tests use ~1.1 of two cores on two workers, most of
# them waiting on brokers, processes, browsers and outages; every deadline in them is sized for
# a machine doing several things at once (the suite passed on three workers at load average 7).
# The longest modules go first (tests/support/plugins/schedule.py); --no-loadscope-reorder keeps
# that order instead of pytest-xdist's default (modules with the most tests first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The suite starts hundreds of Python processes (gateways, nodes, the command line) and pytest
# rewrites ~490 modules' asserts in each worker: with PYTHONDONTWRITEBYTECODE set (some images and
# CI runners set it) every one of them compiles GridWatch's sources again, ~16 s of CPU per worker
# to collect and ~0.5-1 s per process started. Bytecode goes to __pycache__ (ignored by git).
unset PYTHONDONTWRITEBYTECODE
# Compiled once, on both cores, before the workers start: otherwise each of the three workers
# compiles the same sources while collecting (a fresh clone's collection: 10.4 -> 7.3 s of CPU
# for the three workers, 0.4 s for this). Test modules are left to pytest (it rewrites asserts).
.venv/bin/python -m compileall -q -j 0 contracts edge gateway cloud_api gridwatch tests/support >/dev/null
exec .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder "$@"
