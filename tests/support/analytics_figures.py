"""The analytics tests' expected figures, computed by hand
from the generated history (tests/support/analytics_history.py), never with the product's code."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.site import Site
from contracts.site.analytics import AssessmentScheme, Measure, NoData
from gateway.performance.periods import Period
from tests.support.analytics_history import REPORT_TOPIC, Rows

WEEKS = 8


FIRST_MONDAY = date(2026, 3, 2)


PARK = "c-gongye"


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


def history_bounds(site: Site) -> tuple[datetime, datetime]:
    start = local_midnight(site, FIRST_MONDAY)
    return start, start + timedelta(days=7 * WEEKS)


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
