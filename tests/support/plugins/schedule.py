"""The order test modules are handed to the workers: longest first.

``scripts/test.sh`` runs the suite on two workers, a whole module on one worker (``--dist loadfile``,
for the module-scoped servers and stores), and asks pytest-xdist to keep the collection's order of
modules (``--no-loadscope-reorder``; by default it hands out the modules with the most tests first,
which says little about how long they take). This hook puts the modules that take longest first,
so the run ends with short modules filling in on both workers instead of one long module alone on
one of them (the "longest processing time first" rule). Only the order changes: every test runs.

:data:`SECONDS` is what each module took, summed over its tests' setup, call and teardown
(``scripts/test.sh --junitxml=...``; these were measured on the shared two-core machine under
load, about six times slower than a quiet one: only their order matters here). A module missing
here counts as short; a stale figure costs only speed, never a test.
"""

from __future__ import annotations

import pytest

SECONDS: dict[str, float] = {
    "tests/system/test_ingest_robustness.py": 731,
    "tests/api/test_openapi.py": 575,
    "tests/system/test_delivery.py": 573,
    "tests/gateway/test_case_burst.py": 368,
    "tests/edge/video/test_trust.py": 275,
    "tests/api/test_analytics_api.py": 259,
    "tests/api/test_permission_matrix.py": 231,
    "tests/system/test_tls.py": 214,
    "tests/gateway/test_fuzz.py": 197,
    "tests/system/test_backup.py": 187,
    "tests/deploy/test_wheel.py": 140,
    "tests/web/test_console_actions.py": 118,
    "tests/api/test_sign_in.py": 115,
    "tests/edge/video/test_fire.py": 113,
    "tests/system/test_first_hour.py": 106,
    "tests/devices/test_fleet_health.py": 99,
    "tests/edge/video/test_night_scenario.py": 99,
    "tests/api/test_people.py": 98,
    "tests/web/test_console_live.py": 96,
    "tests/web/test_console.py": 91,
    "tests/system/test_demo.py": 150,  # the demo once, three tests (was two modules: 81 + 116)
    "tests/gateway/test_grid_index.py": 81,
    "tests/site/test_broken_sites.py": 78,
    "tests/gateway/test_schema_once.py": 77,
    "tests/edge/test_node.py": 76,
    "tests/web/test_worker_app.py": 73,
    "tests/web/test_broadcasts_live.py": 68,
    "tests/system/test_gateway_processes.py": 67,
    "tests/edge/outbox/test_uplink.py": 60,  # 125 before its outage ran four times faster
}


@pytest.hookimpl(trylast=True)  # after pytest's own reordering (by fixture parameters) inside modules
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> float:
        return SECONDS.get(item.nodeid.split("::", 1)[0], 0.0)

    items.sort(key=lambda item: -weight(item))  # stable: a module's own order is kept
