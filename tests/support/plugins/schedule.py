"""The order test modules are handed to the workers: longest first.

``scripts/test.sh`` runs the suite on three workers, a whole module on one worker (``--dist loadfile``,
for the module-scoped servers and stores), and asks pytest-xdist to keep the collection's order of
modules (``--no-loadscope-reorder``; by default it hands out the modules with the most tests first,
which says little about how long they take). This hook puts the modules that take longest first,
so the run ends with short modules filling in on both workers instead of one long module alone on
one of them (the "longest processing time first" rule). Only the order changes: every test runs.

:data:`SECONDS` is what each module took, summed over its tests' setup, call and teardown
(``scripts/test.sh --durations=0``, summed per module, on the shared two-core machine at load
average ~5, 2026-12-02, then corrected for what changed that day: only their order matters
here). A module missing here counts as short; a stale figure costs only speed, never a test.
"""

from __future__ import annotations

import pytest

SECONDS: dict[str, float] = {
    "tests/system/test_delivery.py": 150,
    "tests/edge/video/test_fire_false_sources.py": 130,  # 10 sources x 3,600 frames (2026-12-02 12:10)
    "tests/api/test_openapi.py": 60,
    "tests/system/test_ingest_robustness.py": 59,
    "tests/web/test_console.py": 35,
    "tests/devices/test_installer_page.py": 32,
    "tests/web/test_worker_app.py": 31,
    "tests/system/test_dispatch_service.py": 31,
    "tests/edge/video/test_fire.py": 30,
    "tests/api/test_permission_matrix.py": 30,
    "tests/edge/video/test_trust.py": 29,
    "tests/gateway/test_outbound_claims.py": 28,
    "tests/web/test_console_fleet.py": 27,
    "tests/web/test_console_actions.py": 27,
    "tests/edge/outbox/test_uplink.py": 26,
    "tests/api/test_sign_in.py": 25,
    "tests/system/test_first_hour.py": 24,
    "tests/system/test_end_to_end.py": 24,
    "tests/system/test_tls.py": 23,
    "tests/edge/outbox/test_receipts.py": 23,
    "tests/api/test_analytics_api.py": 23,
    "tests/web/test_console_live.py": 22,
    "tests/gateway/test_fuzz.py": 22,
    "tests/edge/test_node.py": 22,
    "tests/site/test_broken_sites.py": 21,
    "tests/gateway/test_grid_index.py": 21,
    "tests/gateway/test_case_burst.py": 21,
    "tests/gateway/test_schema_once.py": 20,
    "tests/deploy/test_wheel.py": 20,
    "tests/api/test_people.py": 20,
    "tests/edge/video/test_night_scenario.py": 19,
    "tests/api/test_hostile_input.py": 19,
    "tests/system/test_demo.py": 18,
    "tests/system/test_backup.py": 18,
    "tests/edge/video/test_service.py": 18,
    "tests/devices/test_fleet_health.py": 18,
    "tests/edge/sensors/test_zigbee2mqtt.py": 17,
    "tests/system/test_gateway_processes.py": 16,
    "tests/edge/video/test_sources.py": 16,
    "tests/api/test_console_actions.py": 16,
    "tests/web/test_live_feed.py": 15,
    "tests/gateway/test_webhooks.py": 15,
    "tests/web/test_broadcasts_live.py": 14,
    "tests/system/test_broker_identity.py": 14,
    "tests/edge/sensors/test_modbus.py": 14,
}


@pytest.hookimpl(trylast=True)  # after pytest's own reordering (by fixture parameters) inside modules
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> float:
        return SECONDS.get(item.nodeid.split("::", 1)[0], 0.0)

    items.sort(key=lambda item: -weight(item))  # stable: a module's own order is kept
