"""Performance records: p50/p90 of accept, arrival and resolve times, on-time rate, patrol figures."""

from __future__ import annotations

from datetime import timedelta

from gateway.flows import task_decisions
from gateway.performance.service import grid_records, worker_records
from tests.support.dispatching import act, fix, tasks, tick
from tests.support.harness import Harness


def test_records_per_worker_and_grid(harness: Harness) -> None:
    start = harness.clock.now()
    # Three smoke alarms in the industrial park, one after the other, all for w-ma-li.
    # (accept after, on site after, resolve after) in seconds; the third arrives late.
    plans = [(20, 120, 600), (40, 200, 900), (50, 400, 300)]
    for device, (accept_s, arrive_s, resolve_s) in zip(["smk-factory-a1"] * 3, plans, strict=True):
        harness.raise_event(device)
        task = tasks(harness)[-1]
        assert task.worker_id == "w-ma-li"
        harness.clock.advance(accept_s)
        act(harness, task, "accept")
        tick(harness, arrive_s - accept_s)
        act(harness, task, "check_in")
        harness.clock.advance(resolve_s)
        act(harness, task, "resolve", result="false_alarm")
        tick(harness)
        with harness.sessions.begin() as s:  # the centre closes it, so the next alarm opens a new case
            task_decisions.verify(s, harness.ctx, task.id, "op-1", True, "", harness.clock.now())
        harness.clock.advance(60)
    # And a patrol walk: two of the four checkpoints of the day.
    cps = {c.id: c.location for c in harness.ctx.site.patrols.checkpoints}
    for cp in ("cp-factory-c", "cp-factory-a"):
        harness.clock.advance(300)
        fix(harness, "w-ma-li", cps[cp].lon, cps[cp].lat, on_patrol=True)

    end = harness.clock.now() + timedelta(seconds=1)
    with harness.sessions() as s:
        workers = {w.worker_id: w for w in worker_records(s, harness.ctx.site, start, end)}
        grids = {g.grid_id: g for g in grid_records(s, harness.ctx.site, start, end)}
    ma = workers["w-ma-li"]
    assert (ma.offered, ma.accepted, ma.resolved, ma.declined, ma.expired) == (3, 3, 3, 0, 0)
    assert (ma.accept.p50_s, ma.accept.p90_s) == (40, 48)
    assert (ma.arrival.p50_s, ma.arrival.p90_s) == (200, 360)
    assert (ma.resolve.p50_s, ma.resolve.p90_s) == (600, 840)
    # 9 timed phases; the third on-site (400 s > 300 s) was breached.
    assert ma.phases_judged == 9 and ma.on_time_rate == round(8 / 9, 3)
    assert ma.patrol_coverage == 0.5 and ma.patrol_duration_s == 300 and ma.patrol_distance_m > 300
    assert workers["w-hu-bin"].offered == 0 and workers["w-hu-bin"].on_time_rate is None
    park = grids["g-gongye-01"]
    assert park.cases == 3 and park.arrival.p90_s == 360 and park.on_time_rate == round(8 / 9, 3)
    assert grids["g-donghu-01"].cases == 0
