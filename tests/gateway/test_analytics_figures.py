"""Hotspots, trends, response figures and the monthly assessment over 8 weeks of generated history
(tests/support/analytics_history.py), on SQLite and PostgreSQL.

Every expected figure is computed here in plain Python from the generated rows — counting,
sorting and interpolating by hand — never with the product's code; the product computes them
in SQL aggregates (gateway/performance/sql.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from contracts.site import Site
from contracts.site.analytics import AssessmentScheme, MeasureRule, Measures, NoData
from gateway.cases.feedback import false_alarm_stats
from gateway.performance.areas import By, SiteMap
from gateway.performance.assessment import assess
from gateway.performance.hotspots import density, hotspots, trend
from gateway.performance.periods import Period, month_of, week_of, weeks_ending
from gateway.performance.response import response
from tests.support.analytics_figures import (
    PARK,
    WEEKS,
    community,
    expected_assessment,
    expected_counts,
    expected_ranks,
    expected_response,
    grids_of,
    history_bounds,
    quantile,
)
from tests.support.analytics_history import Rows


def check_line(line: Any, want: dict[str, Any]) -> None:
    where = f"line {line.key}"
    for name in (
        "offered",
        "accepted",
        "declined",
        "expired",
        "arrived",
        "resolved",
        "verified",
        "sent_back",
    ):
        assert getattr(line, name) == want[name], f"{where}: {name}"
    assert line.cases == len(want["cases"]), where
    assert (line.escalations, line.cases_escalated) == (want["escalations"], want["cases_escalated"]), where
    for got, values in (
        (line.accept, want["accept"]),
        (line.arrival, want["arrive"]),
        (line.resolve, want["resolve"]),
    ):
        assert got.count == len(values), where
        for q, p in ((0.5, got.p50_s), (0.9, got.p90_s)):
            expected = quantile(values, q)
            assert (p is None) == (expected is None), where
            if expected is not None:
                assert abs(p - expected) <= 0.051, f"{where}: p{int(q * 100)} {p} != {expected}"
    sla = want["sla"]
    for phase, share in (
        ("worker_accept", line.accept_sla),
        ("on_site", line.arrival_sla),
        ("resolve", line.resolve_sla),
    ):
        assert (share.met, share.breached) == tuple(sla[phase]), f"{where}: {phase}"
    judged = sum(sum(v) for v in sla.values())
    met = sum(v[0] for v in sla.values())
    assert line.phases_judged == judged
    assert line.on_time_rate == (round(met / judged, 4) if judged else None)


# ---------------------------------------------------------------- response figures
@pytest.mark.parametrize("by", ["all", "community", "grid", "worker"])
def test_response_figures_match_a_count_by_hand(
    store: sessionmaker[Session], rows: Rows, demo_site: Site, by: str
) -> None:
    start, end = history_bounds(demo_site)
    since = start + timedelta(days=10)  # a period that cuts through weeks
    want = expected_response(rows, demo_site, since, end, by)
    with store() as s:
        lines = response(s, SiteMap(demo_site), since, end, By(by))
    got = {line.key: line for line in lines}
    assert {k for k, v in want.items() if v["offered"]} <= set(got)
    for k, line in got.items():
        if k in want:
            check_line(line, want[k])
        else:  # a grid, community or worker with nothing in the period: a line of zeros
            assert line.offered == 0 and line.accept.p50_s is None and line.escalations == 0
    if by == "grid":
        assert {g.id for g in demo_site.grids} <= set(got)
    if by == "worker":
        assert set(got) == set(demo_site.workers)
        assert all(
            line.community == community(demo_site, demo_site.workers[line.key].home_grid) for line in lines
        )


def test_response_figures_stay_in_the_callers_grids(
    store: sessionmaker[Session], rows: Rows, demo_site: Site
) -> None:
    start, end = history_bounds(demo_site)
    park = grids_of(demo_site, PARK)
    with store() as s:
        communities = response(s, SiteMap(demo_site), start, end, By.COMMUNITY, park)
        workers = response(s, SiteMap(demo_site), start, end, By.WORKER, park)
        grids = response(s, SiteMap(demo_site), start, end, By.GRID, park)
    assert [c.key for c in communities] == [PARK]
    check_line(communities[0], expected_response(rows, demo_site, start, end, "community", park)[PARK])
    assert {g.key for g in grids} == park
    homed = {w.id for w in demo_site.workers.values() if w.home_grid in park}
    assert {w.key for w in workers} == homed
    want = expected_response(rows, demo_site, start, end, "worker", park)
    for line in workers:
        check_line(line, want[line.key])


@pytest.mark.parametrize("by", ["grid", "community", "hazard_type", "all"])
def test_hotspots_week_on_week(store: sessionmaker[Session], rows: Rows, demo_site: Site, by: str) -> None:
    _, end = history_bounds(demo_site)
    last = Period(end - timedelta(days=7), end, "last week")
    keyfn = {
        "grid": lambda c: c["grid_id"],
        "community": lambda c: community(demo_site, c["grid_id"]),
        "hazard_type": lambda c: c["hazard_type"],
        "all": lambda c: "all",
    }[by]
    now = expected_counts(rows, demo_site, last.start, last.end, keyfn)
    before = expected_counts(rows, demo_site, last.start - timedelta(days=7), last.start, keyfn)
    with store() as s:
        spots = hotspots(s, SiteMap(demo_site), last, By(by))
    got = {h.key: h for h in spots}
    for k in set(now) | set(before):
        h = got[k]
        assert (h.cases, h.dismissed, h.previous) == (now[k][0], now[k][1], before[k][0]), k
        assert h.change == now[k][0] - before[k][0]
        if before[k][0]:
            assert h.change_pct == round(100 * (now[k][0] - before[k][0]) / before[k][0], 1)
    assert [h.cases for h in spots] == sorted((h.cases for h in spots), reverse=True)
    assert sum(h.cases for h in spots) == sum(v[0] for v in now.values())


def test_weekly_trend_and_case_density(store: sessionmaker[Session], rows: Rows, demo_site: Site) -> None:
    start, end = history_bounds(demo_site)
    tz = demo_site.settings.site.tz
    bounds = weeks_ending(end, WEEKS, tz)
    assert bounds[0] == start and bounds[-1] == end
    assert all(b.astimezone(tz).weekday() == 0 and b.astimezone(tz).hour == 0 for b in bounds)
    with store() as s:
        weeks = trend(s, SiteMap(demo_site), bounds, By.HAZARD_TYPE)
        park = trend(s, SiteMap(demo_site), bounds, By.ALL, grids_of(demo_site, PARK))
        last = week_of((end - timedelta(days=1)).astimezone(tz).date(), tz)
        dense = density(s, SiteMap(demo_site), last)
    for i, week in enumerate(weeks):
        want = expected_counts(rows, demo_site, bounds[i], bounds[i + 1], lambda c: c["hazard_type"])
        assert week.counts == {k: v[0] for k, v in want.items()}
        assert week.total == sum(v[0] for v in want.values())
        mine = expected_counts(
            rows, demo_site, bounds[i], bounds[i + 1], lambda c: c["grid_id"] in grids_of(demo_site, PARK)
        )
        assert park[i].total == mine[True][0]
    counts = expected_counts(rows, demo_site, last.start, last.end, lambda c: c["grid_id"])
    assert len(dense) == len(demo_site.grids)
    for d in dense:
        grid = demo_site.areas[d.grid_id]
        # the area by hand: degrees² scaled by the metres in a degree at the grid's latitude
        lat = grid.geometry.centroid.y
        km2 = grid.geometry.area * (111.195 * math.cos(math.radians(lat))) * 111.195
        assert abs(d.area_km2 - km2) / km2 < 0.005
        assert d.cases == counts[d.grid_id][0]
        assert d.per_km2 == pytest.approx(d.cases / d.area_km2, rel=0.01, abs=0.01)
        if grid.households:
            assert d.per_1000_households == round(1000 * d.cases / grid.households, 2)
    assert [d.per_km2 for d in dense] == sorted((d.per_km2 for d in dense), reverse=True)


def test_devices_raising_most_false_alarms(store: sessionmaker[Session], rows: Rows, demo_site: Site) -> None:
    _, end = history_bounds(demo_site)
    since = end - timedelta(days=28)
    judged: dict[str, int] = defaultdict(int)
    for f in rows.tables["false_alarm_feedback"]:
        if since <= f["at"] < end:
            judged[f["device_id"]] += 1
    cases = {c["id"]: c for c in rows.tables["cases"]}
    for t in rows.tables["tasks"]:
        if t["result"] == "false_alarm" and since <= t["resolved_at"] < end:
            judged[cases[t["case_id"]]["device_id"]] += 1
    with store() as s:
        stats = false_alarm_stats(s, since, None, end)
    per_device: dict[str, int] = defaultdict(int)
    for st in stats:
        per_device[st.device_id] += st.false_alarms  # type: ignore[index]
    assert dict(per_device) == dict(judged)
    worst = max(judged.values())
    assert stats[0].false_alarms == max(st.false_alarms for st in stats) and worst >= stats[0].false_alarms


SCHEMES = {
    "site": None,  # the demo site's analytics.yaml
    "zero": AssessmentScheme(
        measures=Measures(
            patrol_coverage=MeasureRule(weight=50, target=0.8),
            verified_resolutions=MeasureRule(weight=30, target=1.0),
            reports_raised=MeasureRule(weight=20, target=2),
        ),
        no_data=NoData.ZERO,
    ),
}


@pytest.mark.parametrize("kind", ["worker", "grid"])
@pytest.mark.parametrize("scheme_name", list(SCHEMES))
def test_monthly_assessment_scores_and_ranks(
    store: sessionmaker[Session], rows: Rows, demo_site: Site, kind: str, scheme_name: str
) -> None:
    scheme = SCHEMES[scheme_name] or demo_site.analytics.assessment
    month = month_of(date(2026, 4, 1), demo_site.settings.site.tz)  # April: weeks 5-8 of the history
    want = expected_assessment(rows, demo_site, scheme, month, kind)
    with store() as s:
        lines = assess(s, SiteMap(demo_site), scheme, month, kind)  # type: ignore[arg-type]
    got = {a.key: a for a in lines}
    assert set(got) == set(want)
    if kind == "worker":
        community_of = {k: community(demo_site, demo_site.workers[k].home_grid) for k in got}
    else:
        community_of = {k: community(demo_site, k) for k in got}
    ranks = expected_ranks({k: v[0] for k, v in want.items()}, community_of)
    for key, a in got.items():
        total, actual = want[key]
        assert a.score == total, key
        assert a.rank == ranks[key], key
        assert a.community == community_of[key]
        shown = {m.measure.value: m for m in a.measures}
        for measure, value in actual.items():
            if measure not in shown:
                continue
            assert (shown[measure].actual is None) == (value is None), (key, measure)
            if value is not None:
                assert shown[measure].actual == pytest.approx(value, abs=6e-5), (key, measure)
    # the figures behind a score are there to read: points add up to the score
    for a in lines:
        if a.score is not None and scheme.no_data is NoData.SKIP:
            scored = [m for m in a.measures if m.points is not None]
            assert round(
                100 * sum(m.points for m in scored) / sum(m.weight for m in scored), 1
            ) == pytest.approx(a.score, abs=0.11)
    communities = {a.community for a in lines}
    for c in communities:
        members = sorted((a for a in lines if a.community == c and a.rank is not None), key=lambda a: a.rank)
        assert members and members[0].rank == 1
        assert [m.score for m in members] == sorted((m.score for m in members), reverse=True)


def test_assessment_of_a_callers_grids_only(
    store: sessionmaker[Session], rows: Rows, demo_site: Site
) -> None:
    month = month_of(date(2026, 4, 1), demo_site.settings.site.tz)
    park = grids_of(demo_site, PARK)
    with store() as s:
        workers = assess(s, SiteMap(demo_site), demo_site.analytics.assessment, month, "worker", park)
        grids = assess(s, SiteMap(demo_site), demo_site.analytics.assessment, month, "grid", park)
    assert {a.key for a in grids} == park
    assert {a.key for a in workers} == {w.id for w in demo_site.workers.values() if w.home_grid in park}
    want = expected_assessment(rows, demo_site, demo_site.analytics.assessment, month, "worker")
    assert {a.key: a.score for a in workers} == {k: want[k][0] for k in (a.key for a in workers)}


def test_generated_history_is_the_kind_a_street_sees(rows: Rows, tmp_path: Path) -> None:
    """The generator's rows hold what the figures are about: hot grids, breaches, rework, reports."""
    cases, tasks = rows.tables["cases"], rows.tables["tasks"]
    assert len(cases) > 500 and len(tasks) > 400
    statuses = {c["status"] for c in cases}
    assert {"closed", "dismissed", "merged"} <= statuses
    assert {"verified", "declined", "expired"} <= {t["status"] for t in tasks}
    assert any(t["sent_back_at"] for t in tasks)
    outcomes = {(t["phase"], t["outcome"]) for t in rows.tables["sla_timers"]}
    assert {("on_site", "breached"), ("resolve", "breached"), ("worker_accept", "cancelled")} <= outcomes
    assert any(e["skipped"] for e in rows.tables["escalations"])
    assert rows.tables["events"] and rows.tables["false_alarm_feedback"]
