"""The order test modules are handed to the workers: longest first.

``scripts/test.sh`` runs the suite on three workers, a whole module on one worker (``--dist loadfile``,
for the module-scoped servers and stores), and asks pytest-xdist to keep the collection's order of
modules (``--no-loadscope-reorder``; by default it hands out the modules with the most tests first,
which says little about how long they take). This hook puts the modules that take longest first,
so the run ends with short modules filling in on both workers instead of one long module alone on
one of them (the "longest processing time first" rule). Only the order changes: every test runs.

:data:`SECONDS` is what each module took, summed over its tests' setup, call and teardown
(``scripts/test.sh --durations=0``, summed per module: a fresh clone of 96ea9bb on the two-core
machine, load average 1.6 before the run, 2026-12-02 07:30 UTC; modules of 8 s or more: only
their order matters here). A module missing here counts as short; a stale figure costs only
speed, never a test.
"""

from __future__ import annotations

import pytest

SECONDS: dict[str, float] = {
    "tests/system/test_delivery.py": 155,
    "tests/api/test_openapi.py": 83,
    "tests/system/test_ingest_robustness.py": 55,
    "tests/api/test_permission_matrix.py": 32,
    "tests/edge/video/test_trust.py": 30,
    "tests/web/test_console_actions.py": 29,
    "tests/edge/outbox/test_receipts.py": 29,
    "tests/devices/test_installer_page.py": 28,
    "tests/web/test_console_fleet.py": 23,
    "tests/web/test_worker_app.py": 22,
    "tests/gateway/test_schema_once.py": 22,
    "tests/edge/outbox/test_uplink.py": 22,
    "tests/gateway/test_case_burst.py": 21,
    "tests/edge/video/test_fire.py": 20,
    "tests/system/test_dispatch_service.py": 19,
    "tests/edge/test_node.py": 19,
    "tests/web/test_console.py": 18,
    "tests/system/test_tls.py": 18,
    "tests/gateway/test_fuzz.py": 18,
    "tests/edge/video/test_service.py": 17,
    "tests/edge/video/test_sources.py": 16,
    "tests/edge/sensors/test_zigbee2mqtt.py": 16,
    "tests/deploy/test_wheel.py": 16,
    "tests/edge/sensors/test_modbus.py": 15,
    "tests/api/test_analytics_api.py": 15,
    "tests/edge/video/test_night_scenario.py": 14,
    "tests/api/test_hostile_input.py": 14,
    "tests/system/test_demo.py": 13,
    "tests/site/test_broken_sites.py": 13,
    "tests/gateway/test_outbound_claims.py": 13,
    "tests/system/test_gateway_processes.py": 11,
    "tests/system/test_backup.py": 11,
    "tests/devices/test_fleet_health.py": 11,
    "tests/api/test_people.py": 11,
    "tests/web/test_resident_page.py": 10,
    "tests/web/test_console_live.py": 10,
    "tests/gateway/test_grid_index.py": 10,
    "tests/api/test_sign_in.py": 10,
    "tests/web/test_broadcasts_live.py": 9,
    "tests/edge/video/test_node_video.py": 9,
    "tests/api/test_case_list.py": 9,
    "tests/gateway/test_webhooks.py": 8,
}


@pytest.hookimpl(trylast=True)  # after pytest's own reordering (by fixture parameters) inside modules
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> float:
        return SECONDS.get(item.nodeid.split("::", 1)[0], 0.0)

    items.sort(key=lambda item: -weight(item))  # stable: a module's own order is kept
