"""Patrol merge: cheapest insertion, inspections folded into the day's route, tracks and check-ins."""

from __future__ import annotations

import itertools

from contracts import TaskOffer, decode, topics
from contracts.geo import haversine_m
from gateway.patrol.insertion import cheapest_insertion, route_length
from gateway.patrol.queries import patrol_day
from gateway.workers.models import WorkerPosition
from tests.support.dispatching import act, fix, tasks, the_case, trail
from tests.support.harness import Harness

LAT = 31.5
STEP = 0.001  # ~95 m of longitude at 31.5° N


def east(n: float, north: float = 0.0) -> tuple[float, float]:
    return 120.0 + n * STEP, LAT + north * STEP


def test_cheapest_insertion_on_a_straight_street() -> None:
    start, stops = east(0), [east(1), east(2), east(3)]
    index, added = cheapest_insertion(start, stops, east(2.5))
    assert index == 2 and added < 0.01  # on the way: free
    index, added = cheapest_insertion(start, stops, east(4))
    assert index == 3 and abs(added - haversine_m(*east(3), *east(4))) < 1e-6  # past the end: append
    index, added = cheapest_insertion(start, stops, east(-1))
    assert index == 0 and abs(added - 2 * haversine_m(*east(0), *east(-1))) < 1e-6  # behind: go back first
    index, _ = cheapest_insertion(start, stops, east(1.5, north=0.5))  # just off the street
    assert index == 1  # between the first and the second stop
    assert cheapest_insertion(start, [], east(2))[0] == 0


def test_insertion_is_the_cheapest_of_all_slots() -> None:
    start = east(0)
    stops = [east(3, 2), east(1, 4), east(-2, 1), east(5, -3), east(0, 6)]
    new = east(2, 3)
    index, added = cheapest_insertion(start, stops, new)
    costs = [
        route_length(start, [*stops[:i], new, *stops[i:]]) - route_length(start, stops) for i in range(6)
    ]
    assert abs(added - min(costs)) < 1e-6 and index == costs.index(min(costs))


def dorm_alarm(h: Harness) -> None:
    # 厂房住人 in the factory-a camera's floor zone (g-gongye-01): not urgent, so it joins the patrol.
    h.raise_event("cam-factory-a", hazard_type="occupied_factory_dorm", zone_id="floor", severity="major")


def test_non_urgent_inspection_is_folded_into_the_patrol_where_it_adds_least(harness: Harness) -> None:
    dorm_alarm(harness)
    [task] = tasks(harness)
    assert task.worker_id == "w-ma-li" and task.urgent is False
    day = harness.clock.now().astimezone(harness.ctx.site.settings.site.tz).date().isoformat()
    with harness.sessions() as s:
        plan = patrol_day(s, "w-ma-li", day)
    names = [(stop.kind, stop.checkpoint_id or stop.task_id) for stop in plan.stops]
    assert names == [
        ("checkpoint", "cp-factory-c"), ("checkpoint", "cp-factory-a"), ("task", task.id),
        ("checkpoint", "cp-warehouse-1"), ("checkpoint", "cp-factory-e"),
    ]  # fmt: skip  # the camera is ~45 m from factory A: right after it, on the way to the warehouse
    inserted = plan.stops[2]
    assert 0 < inserted.detour_m < 100
    [offer_row] = harness.outbound(topics.worker_task("w-ma-li"))
    offer = decode(offer_row.topic, offer_row.payload)
    assert isinstance(offer, TaskOffer) and offer.urgent is False
    assert "folded into today's patrol as stop 3 of 5 after 宏达纺织厂 A 车间" in offer.detail


def test_urgent_case_is_sent_at_once_not_folded_in(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    assert task.urgent
    [row] = harness.outbound(topics.worker_task(task.worker_id))
    offer = decode(row.topic, row.payload)
    assert isinstance(offer, TaskOffer) and offer.detail == ""
    with harness.sessions() as s:
        day = patrol_day(s, task.worker_id, "2026-11-18")
    assert day.inspections == 0


def test_patrol_walk_checks_in_at_the_task_and_builds_the_track(harness: Harness) -> None:
    dorm_alarm(harness)
    [task] = tasks(harness)
    case = the_case(harness)
    cps = {c.id: c.location for c in harness.ctx.site.patrols.checkpoints}
    walk = [
        (cps["cp-factory-c"].lon, cps["cp-factory-c"].lat),
        (cps["cp-factory-a"].lon, cps["cp-factory-a"].lat),
        (case.lon + 0.0002, case.lat),  # ~19 m from the camera's position
        (case.lon + 5.0, case.lat),  # GPS glitch: 475 km in a minute
        (cps["cp-warehouse-1"].lon, cps["cp-warehouse-1"].lat),
    ]
    for lon, lat in walk:
        harness.clock.advance(60)
        fix(harness, "w-ma-li", lon, lat, on_patrol=True)
    [task] = tasks(harness)
    assert task.status == "on_site" and task.accepted_at is not None
    assert "arrived during patrol" in trail(harness)[-1].reason
    with harness.sessions() as s:
        day = patrol_day(s, "w-ma-li", "2026-11-18", with_points=True)
    assert (day.planned_checkpoints, day.visited_checkpoints, day.coverage) == (4, 3, 0.75)
    assert [s.visited_at is not None for s in day.stops] == [True, True, True, True, False]
    assert day.track is not None
    legs = [walk[0], walk[1], walk[2], walk[4]]
    expected = sum(haversine_m(*a, *b) for a, b in itertools.pairwise(legs))
    assert abs(day.track.distance_m - expected) < 1.0
    assert day.track.duration_s == 240 and day.track.glitches == 1 and day.track.fixes == 4
    assert day.track.points == legs
    # and the worker can finish the inspection from there
    assert act(harness, task, "resolve", result="hazard_confirmed", note="4 people sleeping on the floor")
    assert the_case(harness).status == "resolved"


def test_fixes_off_patrol_move_the_worker_but_not_the_track(harness: Harness) -> None:
    fix(harness, "w-ma-li", 120.3095, 31.4920, on_patrol=False)
    with harness.sessions() as s:
        day = patrol_day(s, "w-ma-li", "2026-11-18")
    assert day.track is None and day.visited_checkpoints == 0


def test_a_gap_in_fixes_starts_a_new_walk(harness: Harness) -> None:
    fix(harness, "w-ma-li", *east(0), on_patrol=True)
    harness.clock.advance(60)
    fix(harness, "w-ma-li", *east(1), on_patrol=True)
    harness.clock.advance(3600)  # lunch
    fix(harness, "w-ma-li", *east(5), on_patrol=True)
    harness.clock.advance(60)
    fix(harness, "w-ma-li", *east(6), on_patrol=True)
    with harness.sessions() as s:
        track = patrol_day(s, "w-ma-li", "2026-11-18").track
    assert track is not None
    assert abs(track.distance_m - 2 * haversine_m(*east(0), *east(1))) < 0.5  # not the 4 steps between walks
    assert track.duration_s == 120


def test_a_declined_inspection_leaves_the_plan_and_joins_the_next_workers(harness: Harness) -> None:
    dorm_alarm(harness)
    [first] = tasks(harness)
    act(harness, first, "decline", note="off sick this afternoon")
    second = tasks(harness)[-1]
    with harness.sessions() as s:
        mine = patrol_day(s, first.worker_id, "2026-11-18")
        theirs = patrol_day(s, second.worker_id, "2026-11-18")
    [dropped] = [stop for stop in mine.stops if stop.kind == "task"]
    assert dropped.cancelled_at is not None and mine.inspections == 0
    assert [stop.task_id for stop in theirs.stops if stop.kind == "task"] == [second.id]


def test_a_fix_too_coarse_to_tell_is_neither_an_arrival_nor_a_visit(harness: Harness) -> None:
    """Without a GPS lock a phone gives its network position: a point that may lie on the site
    with an accuracy of a kilometre or more. Such a fix says nothing about being within the
    check-in radius (50 m): it met the five-minute on-site deadline and ticked patrol checkpoints
    for a worker who may have been streets away. It moves the worker's position; only a fix
    accurate to within the radius checks them in."""
    dorm_alarm(harness)
    case = the_case(harness)
    radius = harness.ctx.site.settings.dispatch.check_in_radius_m
    cp = next(c for c in harness.ctx.site.patrols.checkpoints if c.id == "cp-factory-c").location
    harness.clock.advance(60)
    fix(harness, "w-ma-li", case.lon + 0.0002, case.lat, on_patrol=True, accuracy_m=1500)  # ~19 m, ±1.5 km
    harness.clock.advance(60)
    fix(harness, "w-ma-li", cp.lon, cp.lat, on_patrol=True, accuracy_m=radius + 1)
    [task] = tasks(harness)
    assert task.status == "offered" and task.on_site_at is None
    with harness.sessions() as s:
        day = patrol_day(s, "w-ma-li", "2026-11-18", with_points=True)
        position = s.get(WorkerPosition, "w-ma-li")
    assert day.visited_checkpoints == 0
    assert position is not None and (position.lon, position.lat) == (cp.lon, cp.lat)  # still its position
    harness.clock.advance(60)
    fix(harness, "w-ma-li", case.lon + 0.0002, case.lat, on_patrol=True, accuracy_m=radius)  # GPS again
    [task] = tasks(harness)
    assert task.status == "on_site"
