"""The demo tells the same story at any hour (issue 11): each emergency it raises finds an on-duty
grid worker, whatever the time of day or the day of the week.

The demo runs on the machine's clock, so instead of running it 24 times this asks the gateway's
own dispatch choice, hour by hour, what it would decide for each of the demo's emergencies with
the demo's duty roster (``device_configs/demo_site/workers.yaml``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contracts.site import Site
from gateway.context import GatewayContext
from gateway.dispatch.choice import WorkerState, choose_worker
from gridwatch.demo import FIRST_ALARM, SECOND_ALARM

FIRE_CAMERA = "cam-workshop-b"  # the sealed workshop's camera plays the fire clip
# A Wednesday and a Sunday, every hour and half hour, in the site's own time zone.
DAYS = ("2026-12-02", "2026-12-06")


@pytest.mark.parametrize("device_id", [FIRST_ALARM, SECOND_ALARM, FIRE_CAMERA])
def test_every_demo_emergency_is_dispatched_at_any_hour(demo_site: Site, device_id: str) -> None:
    ctx = GatewayContext(demo_site)
    _, device = demo_site.device(device_id)  # type: ignore[misc]
    grid = ctx.grids.locate(device.location)
    assert grid is not None
    tz = demo_site.settings.site.tz
    shortfalls = []
    chosen: set[str] = set()
    for day in DAYS:
        start = datetime.fromisoformat(day).replace(tzinfo=tz)
        for half_hours in range(48):
            at = start + timedelta(minutes=30 * half_hours)
            decision = choose_worker(ctx, device.location, grid.id, at, WorkerState())
            if decision.shortfall:
                shortfalls.append(f"{at:%a %H:%M}: {decision.reason}")
            else:
                chosen.add(decision.worker_id)  # type: ignore[arg-type]
    assert shortfalls == [], f"{device_id} in {grid.id} finds nobody at: {shortfalls}"
    if device_id == FIRST_ALARM:
        # The demo prints this dispatch: the same worker, day and night (on call around the clock).
        assert chosen == {"w-ma-li"}
