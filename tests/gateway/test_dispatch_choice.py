"""Choosing the worker on hand-built grids where the right answer is obvious (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.geo import GeoPoint
from gateway.context import GatewayContext
from gateway.dispatch.choice import WorkerState, choose_worker
from gateway.dispatch.eta import StraightLineEta
from tests.support.sites.handmade import NOW, HandmadeSite, point_in


@dataclass
class Fix:
    lon: float
    lat: float
    fixed_at: datetime


def fix_at(grid: int, dx: float = 0.5, dy: float = 0.5, age_s: float = 10) -> Fix:
    lon, lat = point_in(grid, dx, dy)
    return Fix(lon, lat, NOW - timedelta(seconds=age_s))


def decide(site: HandmadeSite, where: tuple[float, float], state: WorkerState, **kw):  # type: ignore[no-untyped-def]
    ctx = GatewayContext(site.build())
    grid = ctx.grids.locate(GeoPoint(lon=where[0], lat=where[1]))
    assert grid is not None
    return choose_worker(ctx, GeoPoint(lon=where[0], lat=where[1]), grid.id, NOW, state, **kw)


def test_own_grid_worker_wins_over_a_nearer_worker_of_the_next_grid() -> None:
    site = HandmadeSite().worker("w-own", 0).worker("w-next", 1)
    case = point_in(0, dx=0.98)  # at g-0's east edge
    state = WorkerState(positions={"w-own": fix_at(0, dx=0.02), "w-next": fix_at(1, dx=0.02)})
    d = decide(site, case, state)
    assert d.worker_id == "w-own" and d.reason_code == "own_grid"
    own, nxt = d.shortlist
    assert own.distance_m > 800 and nxt.distance_m < 100  # nearer, but in the neighbouring grid
    assert (own.ring, nxt.ring) == (0, 1)
    assert "own grid" in d.reason and "live fix" in d.reason


def test_full_time_before_part_time_in_the_own_grid() -> None:
    site = HandmadeSite().worker("w-part", 0, role="part_time").worker("w-full", 0)
    case = point_in(0, 0.1)
    state = WorkerState(positions={"w-part": fix_at(0, 0.1), "w-full": fix_at(0, 0.9)})
    d = decide(site, case, state)
    assert [c.worker_id for c in d.shortlist] == ["w-full", "w-part"]


def test_stale_fix_is_ranked_by_home_centroid_and_the_reason_says_so() -> None:
    site = HandmadeSite(dispatch={"stale_fix_s": 300}).worker("w-stale", 0).worker("w-fresh", 0)
    case = point_in(0, 0.1, 0.5)
    # The stale fix is right at the case, but 10 minutes old: the centroid (~380 m away) counts.
    state = WorkerState(positions={"w-stale": fix_at(0, 0.1, 0.5, age_s=600), "w-fresh": fix_at(0, 0.3, 0.5)})
    d = decide(site, case, state)
    assert d.worker_id == "w-fresh"
    stale = next(c for c in d.shortlist if c.worker_id == "w-stale")
    assert stale.position == "home_centroid" and stale.fix_age_s == 600
    assert 350 < stale.distance_m < 420

    only_stale = decide(HandmadeSite().worker("w-stale", 0), case, state)
    assert only_stale.worker_id == "w-stale"
    assert "home-grid centroid (fix 600 s old is stale after 300 s)" in only_stale.reason


def test_worker_without_any_fix_is_placed_at_the_home_centroid() -> None:
    d = decide(HandmadeSite().worker("w-a", 0), point_in(0), WorkerState())
    assert d.shortlist[0].position == "home_centroid" and d.shortlist[0].fix_age_s is None
    assert "no location fix yet" in d.reason


def test_off_duty_busy_unavailable_and_declined_workers_are_skipped_and_counted() -> None:
    site = (
        HandmadeSite(dispatch={"max_open_tasks": 2})
        .worker("w-night", 0, duty="daily 20:00-08:00")  # 10:00 in Shanghai: off duty
        .worker("w-busy", 0)
        .worker("w-sick", 0)
        .worker("w-said-no", 0)
        .worker("w-cooling", 0)
        .worker("w-free", 1)
    )
    state = WorkerState(
        workloads={"w-busy": 2}, unavailable={"w-sick": "sick leave"}, cooling_down=frozenset({"w-cooling"})
    )
    d = decide(site, point_in(0), state, exclude=frozenset({"w-said-no"}))
    assert d.worker_id == "w-free" and d.reason_code == "neighbour_grid"
    assert d.skipped == {"off_duty": 1, "busy": 1, "unavailable": 1, "declined": 1, "cooling_down": 1}
    assert "skipped 1 busy, 1 cooling down, 1 declined, 1 off duty, 1 unavailable" in d.reason


def test_nobody_available_is_a_shortfall_with_a_code_that_says_why() -> None:
    off = (
        HandmadeSite()
        .worker("w-night", 0, duty="daily 20:00-08:00")
        .worker("w-night2", 1, duty="daily 20:00-08:00")
    )
    d = decide(off, point_in(0), WorkerState())
    assert d.worker_id is None and d.shortfall
    assert d.reason_code == "shortfall_all_off_duty" and d.shortlist == ()
    assert "2 worker(s) near, 2 off duty" in d.reason

    mixed = HandmadeSite().worker("w-night", 0, duty="daily 20:00-08:00").worker("w-sick", 0)
    d = decide(mixed, point_in(0), WorkerState(unavailable={"w-sick": "leave"}))
    assert d.reason_code == "shortfall_none_available"

    far = HandmadeSite(n_grids=5).worker("w-far", 4)  # beyond the two rings searched
    d = decide(far, point_in(0), WorkerState())
    assert d.reason_code == "shortfall_no_worker"


def test_search_cascades_ring_by_ring() -> None:
    site = HandmadeSite(n_grids=4).worker("w-ring2", 2).worker("w-ring3", 3)
    d = decide(site, point_in(0), WorkerState())
    assert d.worker_id == "w-ring2" and d.shortlist[0].ring == 2
    assert [c.worker_id for c in d.shortlist] == ["w-ring2"]  # ring 3 is beyond max_rings = 2
    wider = HandmadeSite(n_grids=4, dispatch={"max_rings": 3}).worker("w-ring3", 3)
    assert decide(wider, point_in(0), WorkerState()).worker_id == "w-ring3"
    own_only = HandmadeSite(dispatch={"max_rings": 0}).worker("w-ring1", 1)
    assert decide(own_only, point_in(0), WorkerState()).reason_code == "shortfall_no_worker"


def test_eta_rerank_prefers_a_known_position_over_a_slightly_nearer_guess() -> None:
    site = HandmadeSite(dispatch={"eta_rerank_top": 3, "unknown_position_penalty_s": 120})
    site.worker("w-guess", 0).worker("w-seen", 0).worker("w-part", 0, role="part_time")
    case = point_in(0, 0.1)
    # w-guess has no fix: placed at the centroid (~380 m). w-seen's live fix is ~475 m away.
    state = WorkerState(positions={"w-seen": fix_at(0, 0.6), "w-part": fix_at(0, 0.1)})
    plain = decide(site, case, state)
    assert [c.worker_id for c in plain.shortlist][:2] == ["w-guess", "w-seen"]
    eta = StraightLineEta(site.build().settings.dispatch)
    ranked = decide(site, case, state, eta=eta)
    assert ranked.worker_id == "w-seen" and "ETA" in ranked.reason
    seen, guess = ranked.shortlist[:2]
    assert seen.eta_s is not None and guess.eta_s is not None and seen.eta_s < guess.eta_s
    assert ranked.shortlist[2].worker_id == "w-part"  # the part-timer stays behind the full-timers
