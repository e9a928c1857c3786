"""Hotspots, trends, response figures and the monthly assessment over 8 weeks of generated history
(tests/analytics_history.py), on SQLite and PostgreSQL.

Every expected figure is computed here in plain Python from the generated rows — counting,
sorting and interpolating by hand — never with the product's code; the product computes them
in SQL aggregates (gateway/performance/sql.py).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from contracts.site import Site
from contracts.site.analytics import AssessmentScheme, Measure, MeasureRule, Measures, NoData
from gateway.cases.feedback import false_alarm_stats
from gateway.performance.areas import By, SiteMap
from gateway.performance.assessment import assess
from gateway.performance.hotspots import density, hotspots, trend
from gateway.performance.periods import Period, month_of, week_of, weeks_ending
from gateway.performance.response import response
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine
from tests.analytics_history import REPORT_TOPIC, History, Rows, write
from tests.conftest import PG_URL, _pg_answers

WEEKS = 8
FIRST_MONDAY = date(2026, 3, 2)
PARK = "c-gongye"


# ---------------------------------------------------------------- the history, once per module
@pytest.fixture(scope="module")
def rows(demo_site: Site) -> Rows:
    return History(demo_site, local_midnight(demo_site, FIRST_MONDAY), WEEKS).all()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, rows: Rows, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'gridwatch.db'}"
        admin = None
    else:
        if not _pg_answers():
            pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    write(engine, rows)
    yield sessionmaker(engine)
    engine.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# ---------------------------------------------------------------- independent arithmetic
def local_midnight(site: Site, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=site.settings.site.tz).astimezone(UTC)


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks, by hand."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def community(site: Site, grid_id: str | None) -> str | None:
    area = site.areas.get(grid_id) if grid_id else None
    while area is not None and area.level.value != "community":
        area = site.areas.get(area.parent) if area.parent else None
    return area.id if area else None


def grids_of(site: Site, area_id: str) -> frozenset[str]:
    out = set()
    for area in site.areas.values():
        if area.level.value == "grid" and (area.parent == area_id or area.id == area_id):
            out.add(area.id)
    return frozenset(out)


def secs(later: datetime | None, earlier: datetime | None) -> float | None:
    return None if later is None or earlier is None else (later - earlier).total_seconds()


def expected_response(
    rows: Rows, site: Site, since: datetime, until: datetime, by: str, grids: frozenset[str] | None = None
) -> dict[Any, dict[str, Any]]:
    cases = {c["id"]: c for c in rows.tables["cases"]}
    home = {w.id: w.home_grid for w in site.workers.values()}

    def key(task: dict[str, Any]) -> Any:
        grid = cases[task["case_id"]]["grid_id"]
        return {"worker": task["worker_id"], "grid": grid, "community": community(site, grid), "all": "all"}[
            by
        ]

    def in_scope(task: dict[str, Any]) -> bool:
        if grids is None:
            return True
        if by == "worker":
            return home[task["worker_id"]] in grids
        return cases[task["case_id"]]["grid_id"] in grids

    tasks = [t for t in rows.tables["tasks"] if since <= t["offered_at"] < until and in_scope(t)]
    out: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {
            "offered": 0,
            "accepted": 0,
            "declined": 0,
            "expired": 0,
            "arrived": 0,
            "resolved": 0,
            "verified": 0,
            "sent_back": 0,
            "cases": set(),
            "accept": [],
            "arrive": [],
            "resolve": [],
            "sla": defaultdict(lambda: [0, 0]),
            "escalations": 0,
            "cases_escalated": 0,
        }
    )
    key_of_task = {}
    for t in tasks:
        e = out[key(t)]
        key_of_task[t["id"]] = key(t)
        e["offered"] += 1
        e["accepted"] += t["accepted_at"] is not None
        e["declined"] += t["status"] == "declined"
        e["expired"] += t["status"] == "expired"
        e["arrived"] += t["on_site_at"] is not None
        e["verified"] += t["verified_at"] is not None
        e["sent_back"] += t["sent_back_at"] is not None
        e["cases"].add(t["case_id"])
        if t["accepted_at"] is not None:
            e["accept"].append(secs(t["accepted_at"], t["offered_at"]))
        if t["on_site_at"] is not None:
            e["arrive"].append(secs(t["on_site_at"], t["offered_at"]))
            if t["resolved_at"] is not None:
                e["resolved"] += 1
                e["resolve"].append(secs(t["resolved_at"], t["on_site_at"]))
    for timer in rows.tables["sla_timers"]:
        k = key_of_task.get(timer["task_id"])
        if k is None or timer["phase"] not in ("worker_accept", "on_site", "resolve"):
            continue
        if timer["outcome"] in ("met", "breached"):
            out[k]["sla"][timer["phase"]][timer["outcome"] == "breached"] += 1
    escalations = [e for e in rows.tables["escalations"] if not e["skipped"]]
    if by == "worker":
        for e in out.values():
            told = [x for x in escalations if x["case_id"] in e["cases"]]
            e["escalations"] = len(told)
            e["cases_escalated"] = len({x["case_id"] for x in told})
    else:
        for x in escalations:
            case = cases[x["case_id"]]
            if not since <= case["opened_at"] < until or (grids is not None and case["grid_id"] not in grids):
                continue
            k = {"grid": case["grid_id"], "community": community(site, case["grid_id"]), "all": "all"}[by]
            out[k]["escalations"] += 1
            out[k].setdefault("escalated_ids", set()).add(case["id"])
        for e in out.values():
            e["cases_escalated"] = len(e.pop("escalated_ids", set()))
    return out


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


def history_bounds(site: Site) -> tuple[datetime, datetime]:
    start = local_midnight(site, FIRST_MONDAY)
    return start, start + timedelta(days=7 * WEEKS)


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


# ---------------------------------------------------------------- hotspots and trends
def expected_counts(
    rows: Rows, site: Site, since: datetime, until: datetime, key: Callable[[dict], Any]
) -> dict:
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for c in rows.tables["cases"]:
        if since <= c["opened_at"] < until and c["status"] != "merged":
            out[key(c)][0] += 1
            out[key(c)][1] += c["status"] == "dismissed"
    return out


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


# ---------------------------------------------------------------- the monthly assessment
def expected_assessment(
    rows: Rows, site: Site, scheme: AssessmentScheme, month: Period, kind: str
) -> dict[str, tuple[float | None, dict[str, float | None]]]:
    tz = site.settings.site.tz
    first = month.start.astimezone(tz).date().isoformat()
    last = (month.end - timedelta(seconds=1)).astimezone(tz).date().isoformat()
    plans = {p["id"]: p for p in rows.tables["patrol_plans"] if first <= p["day"] <= last}
    planned: dict[str, int] = defaultdict(int)
    visited: dict[str, int] = defaultdict(int)
    for stop in rows.tables["patrol_stops"]:
        plan = plans.get(stop["plan_id"])
        if plan is not None and stop["kind"] == "checkpoint":
            planned[plan["worker_id"]] += 1
            visited[plan["worker_id"]] += stop["visited_at"] is not None
    reports: dict[str, int] = defaultdict(int)
    for e in rows.tables["events"]:
        if e["topic"] == REPORT_TOPIC and month.start <= e["received_at"] < month.end:
            reports[e["source"]] += 1
    resp = expected_response(rows, site, month.start, month.end, "worker" if kind == "worker" else "grid")
    home = defaultdict(list)
    for w in site.workers.values():
        home[w.home_grid].append(w.id)
    keys = list(site.workers) if kind == "worker" else [g.id for g in site.grids]
    out = {}
    for key in keys:
        members = [key] if kind == "worker" else home[key]
        r = resp.get(key)
        sla = r["sla"] if r else {}

        def share(num: int, den: int) -> float | None:
            return num / den if den else None

        actual = {
            "patrol_coverage": share(sum(visited[m] for m in members), sum(planned[m] for m in members)),
            "on_time_arrival": share(sla.get("on_site", [0, 0])[0], sum(sla.get("on_site", [0, 0]))),
            "on_time_resolution": share(sla.get("resolve", [0, 0])[0], sum(sla.get("resolve", [0, 0]))),
            "verified_resolutions": share(
                r["verified"] if r else 0, (r["verified"] + r["sent_back"]) if r else 0
            ),
            "reports_raised": share(sum(reports[m] for m in members), len(members)),
        }
        earned = weights = 0.0
        for measure in Measure:
            rule = getattr(scheme.measures, measure.value)
            if rule is None:
                continue
            a = actual[measure.value]
            if a is None and scheme.no_data is NoData.SKIP:
                continue
            earned += rule.weight * min(1.0, (a or 0) / rule.target)
            weights += rule.weight
        total = (
            None
            if not weights
            else round(earned if scheme.no_data is NoData.ZERO else 100 * earned / weights, 1)
        )
        out[key] = (total, actual)
    return out


def expected_ranks(
    scores: dict[str, float | None], community_of: dict[str, str | None]
) -> dict[str, int | None]:
    ranks: dict[str, int | None] = {}
    for key, score in scores.items():
        if score is None:
            ranks[key] = None
            continue
        rivals = [s for k, s in scores.items() if community_of[k] == community_of[key] and s is not None]
        ranks[key] = 1 + sum(1 for s in rivals if s > score)
    return ranks


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
