"""Weeks of realistic history for a site, written straight into the store: cases, tasks, steps and
their SLA timers, escalations, false alarms, 随手拍 reports, patrol plans, checkpoints and tracks.

Used by the analytics tests (8 weeks of the demo town, on SQLite and PostgreSQL; the expected
figures are computed from the rows kept here, never by the product) and by bench/analytics.py
(a year of a 500-grid street, streamed into PostgreSQL with COPY).

What it draws, per grid and day (deterministic for a seed):

- cases at a rate that differs per grid (some grids are hotspots) and grows a little week on week;
  hazard types weighted as a street sees them (smoke alarms, fire, gas, illegal workshops, dorms,
  and device troubles); a few devices that raise far more false alarms than the others;
- for an emergency: dismissed by the centre as a false alarm (a feedback row with a reason),
  merged into an earlier case, or offered to a worker — declined or expired sometimes (then
  offered again), accepted within the accept SLA, on site (the on-site SLA met or breached),
  resolved (met or breached), verified by the centre or sent back (返工); SLA timers for every
  phase with the outcome those times give; escalations after breaches and re-dispatches (and
  skipped tiers, which do not count); cases of the last days still open;
- 随手拍 reports in the ledger (a worker's report opening a case, or joining one);
- each worker's patrol day: the checkpoints of their route (visited or not, with a worker-specific
  diligence), inspections folded into the route (not checkpoints), the walked track.

Times are whole seconds: SQLite reads stored times to the millisecond.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from contracts.site import Site
from contracts.site.models import GridLevel

REPORT_TOPIC = "http:POST /api/v1/reports"  # what the gateway's ledger calls a 随手拍 report

# (hazard, weight, category, urgent)
HAZARDS = [
    ("smoke_alarm", 24, "emergency"),
    ("fire_smoke", 12, "emergency"),
    ("gas_leak", 9, "emergency"),
    ("illegal_workshop", 14, "emergency"),
    ("occupied_factory_dorm", 11, "emergency"),
    ("camera_offline", 12, "maintenance"),
    ("device_offline", 10, "maintenance"),
    ("low_battery", 5, "maintenance"),
    ("camera_blocked", 3, "maintenance"),
]
SENSOR_HAZARDS = {"smoke_alarm", "gas_leak", "device_offline", "low_battery"}
SEVERITIES = {"fire_smoke": "critical", "gas_leak": "critical", "smoke_alarm": "critical"}
REASONS = ["steam_cooking", "light", "people_at_work", "animal", "object", "test", "device_fault", "other"]
TABLES = (
    "cases",
    "tasks",
    "sla_timers",
    "escalations",
    "false_alarm_feedback",
    "events",
    "patrol_plans",
    "patrol_stops",
    "patrol_tracks",
)
LIMITS = {"worker_accept": 120, "on_site": 1800, "resolve": 7200, "centre_accept": 300, "verify": 86400}


def site_monday(day: date, site: Site) -> datetime:
    """Monday 00:00 (site time) of the week holding ``day``, in UTC."""
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(0), tzinfo=site.settings.site.tz).astimezone(UTC)


@dataclass
class Rows:
    """Rows per table, as dicts of column values."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].append(row)

    def extend(self, other: Rows) -> None:
        for table, rows in other.tables.items():
            self.tables[table].extend(rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


@dataclass(frozen=True)
class Device:
    id: str
    node_id: str | None
    grid_id: str
    lon: float
    lat: float
    camera: bool
    false_rate: float  # chance a case it raises is a false alarm


class History:
    """History of ``weeks`` weeks from ``start`` (a site-local Monday 00:00, UTC) up to ``now``
    (the end, or earlier: what happened after ``now`` has not happened yet)."""

    def __init__(
        self,
        site: Site,
        start: datetime,
        weeks: int,
        *,
        cases_per_grid_week: float = 6.0,
        seed: int = 20,
        patrol_stops: int = 6,
    ) -> None:
        self.site = site
        self.start = start
        self.weeks = weeks
        self.end = start + timedelta(days=7 * weeks)
        self.rate = cases_per_grid_week
        self.rng = random.Random(seed)
        self.patrol_stops = patrol_stops
        self.grids = [a for a in site.areas.values() if a.level is GridLevel.GRID]
        self.grid_ids = [g.id for g in self.grids]
        # Hotspots: a grid's weight is lognormal, a handful of grids see most cases.
        self.heat = {g.id: self.rng.lognormvariate(0, 0.8) for g in self.grids}
        self.workers_of: dict[str, list[str]] = {g.id: [] for g in self.grids}
        for w in site.workers.values():
            self.workers_of.setdefault(w.home_grid, []).append(w.id)
        self.community = {
            g.id: (c.id if (c := site.ancestor(g.id, GridLevel.COMMUNITY)) else None) for g in self.grids
        }
        self.devices = self._devices()
        self.diligence = {w: self.rng.uniform(0.55, 1.0) for w in site.workers}
        self.speed = {w: self.rng.uniform(0.7, 1.5) for w in site.workers}  # slow or quick workers
        self._recent: dict[str, list[str]] = {g.id: [] for g in self.grids}  # cases to merge into
        self._n = 0
        self._told: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ set-up
    def _devices(self) -> dict[str, list[Device]]:
        found: dict[str, list[Device]] = {g.id: [] for g in self.grids}
        for node_id, node in self.site.nodes.items():
            for dev in (*node.cameras, *node.sensors):
                grid = self.site.grid_containing(dev.location)
                if grid is not None:
                    found[grid.id].append(
                        Device(
                            dev.id,
                            node_id,
                            grid.id,
                            dev.location.lon,
                            dev.location.lat,
                            dev in node.cameras,
                            0.1,
                        )
                    )
        for grid in self.grids:
            c = grid.centroid
            for i in range(2):
                for camera in (True, False):
                    name = f"{'cam' if camera else 'smk'}-{grid.id}-{i + 1}"
                    bad = self.rng.random() < 0.08  # a few devices cry wolf
                    found[grid.id].append(
                        Device(
                            name,
                            f"node-{grid.id}",
                            grid.id,
                            c.lon + self.rng.uniform(-0.001, 0.001),
                            c.lat + self.rng.uniform(-0.001, 0.001),
                            camera,
                            self.rng.uniform(0.5, 0.8) if bad else self.rng.uniform(0.02, 0.15),
                        )
                    )
        return found

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _seconds(self, median: float, spread: float) -> int:
        return max(1, round(self.rng.lognormvariate(math.log(median), spread)))

    # ------------------------------------------------------------------ generation
    def days(self) -> Iterator[Rows]:
        """The history a day at a time (the bench streams it)."""
        plan_id = stop_id = track_id = 0
        for d in range(self.weeks * 7):
            day_start = self.start + timedelta(days=d)
            rows = Rows()
            week = d // 7
            weekday = (day_start.astimezone(self.site.settings.site.tz)).weekday()
            for grid in self.grids:
                mean = (
                    self.rate / 7 * self.heat[grid.id] * (1 + 0.04 * week) * (1.15 if weekday >= 5 else 1.0)
                )
                for _ in range(self._poisson(mean)):
                    at = day_start + timedelta(seconds=self.rng.randrange(86400))
                    self._case(rows, grid.id, at)
            local_day = (day_start + timedelta(hours=12)).astimezone(self.site.settings.site.tz).date()
            for worker_id in self.site.workers:
                if self.rng.random() < 0.15:
                    continue  # a day off: no patrol
                plan_id, stop_id, track_id = self._patrol(
                    rows, worker_id, local_day, day_start, plan_id, stop_id, track_id
                )
            yield rows

    def all(self) -> Rows:
        total = Rows()
        for rows in self.days():
            total.extend(rows)
        return total

    def _poisson(self, mean: float) -> int:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _pick_hazard(self, camera: bool | None) -> tuple[str, str]:
        choices = [h for h in HAZARDS if camera is None or (h[0] in SENSOR_HAZARDS) != camera]
        hazard, _, category = self.rng.choices(choices, weights=[h[1] for h in choices])[0]
        return hazard, category

    def _case(self, rows: Rows, grid_id: str, opened: datetime) -> None:
        rng = self.rng
        workers = self.workers_of.get(grid_id) or list(self.site.workers)
        reporter = rng.choice(workers) if rng.random() < 0.08 else None
        device = None if reporter else rng.choice(self.devices[grid_id])
        hazard, category = self._pick_hazard(None if reporter else device.camera)  # type: ignore[union-attr]
        if reporter is not None and category == "maintenance":
            hazard, category = "fire_smoke", "emergency"
        case_id = self._id()
        self._n += 1
        grid = self.site.areas[grid_id]
        lon = device.lon if device else grid.centroid.lon
        lat = device.lat if device else grid.centroid.lat
        case: dict[str, Any] = {
            "id": case_id,
            "hazard_type": hazard,
            "category": category,
            "severity": SEVERITIES.get(hazard, "major" if category == "emergency" else "minor"),
            "status": "closed",
            "urgent": category == "emergency",
            "place_key": f"report/{case_id}" if reporter else f"{device.id}#{self._n}",  # type: ignore[union-attr]
            "node_id": None if reporter else device.node_id,  # type: ignore[union-attr]
            "device_id": reporter or device.id,  # type: ignore[union-attr]
            "zone_id": None,
            "grid_id": grid_id,
            "lon": lon,
            "lat": lat,
            "title": f"{hazard} · {reporter or device.id}",  # type: ignore[union-attr]
            "warnings": [],
            "evidence_ids": [],
            "event_count": 1 + (rng.random() < 0.3) * rng.randrange(1, 5),
            "first_seen_at": opened,
            "last_seen_at": opened,
            "source_cleared_at": None,
            "opened_at": opened,
            "updated_at": opened,
            "assigned_worker_id": None,
            "confirmed_at": None,
            "confirmed_by": None,
            "corroborated_by": None,
            "merged_into": None,
        }
        rows.add("cases", case)
        self._timer(
            rows,
            case_id,
            None,
            None,
            "centre_accept",
            opened,
            opened + timedelta(seconds=rng.randrange(20, 400)),
        )
        if reporter is not None:
            self._report(rows, reporter, case_id, opened)
        if rng.random() < 0.02:  # another worker's report joins the open case
            self._report(
                rows, rng.choice(workers), case_id, opened + timedelta(seconds=rng.randrange(60, 900))
            )
        recent = self._recent[grid_id]
        if recent and rng.random() < 0.02:  # a duplicate the centre merges
            case["status"], case["merged_into"] = "merged", rng.choice(recent)
            return
        recent.append(case_id)
        del recent[:-20]
        false_rate = device.false_rate if device else 0.02
        if category == "maintenance":
            self._maintenance(rows, case, opened)
            return
        if rng.random() < false_rate * 0.7:  # the centre sees it is a false alarm
            at = opened + timedelta(seconds=rng.randrange(30, 900))
            if at >= self.end:
                case["status"] = "new"
                return
            case["status"], case["updated_at"] = "dismissed", at
            rows.add(
                "false_alarm_feedback",
                {
                    "at": at,
                    "case_id": case_id,
                    "hazard_type": hazard,
                    "node_id": case["node_id"],
                    "device_id": case["device_id"],
                    "zone_id": None,
                    "grid_id": grid_id,
                    "actor": "operator:op-centre",
                    "reason": "generated",
                    "reason_code": rng.choice(REASONS),
                },
            )
            return
        self._dispatch(rows, case, grid_id, opened, false_rate)

    def _report(self, rows: Rows, worker_id: str, case_id: str, at: datetime) -> None:
        if at >= self.end:
            return
        event_id = self._id()
        rows.add(
            "events",
            {
                "source": worker_id,
                "id": event_id,
                "kind": "hazard_event",
                "seq": 0,
                "ts": at,
                "received_at": at,
                "topic": REPORT_TOPIC,
                "device_id": worker_id,
                "hazard_type": "fire_smoke",
                "severity": "major",
                "state": "new",
                "case_id": case_id,
                "payload": "{}",
                "handled_by": "gen",
                "task_id": None,
                "outcome": "applied",
            },
        )

    def _maintenance(self, rows: Rows, case: dict[str, Any], opened: datetime) -> None:
        done = opened + timedelta(seconds=self._seconds(6 * 3600, 1.0))
        if done >= self.end:
            case["status"] = "new"
        else:
            case["status"], case["updated_at"] = "closed", done

    def _worker_for(self, grid_id: str, tried: list[str]) -> str:
        home = [w for w in self.workers_of.get(grid_id, []) if w not in tried]
        if home and self.rng.random() < 0.85:
            return self.rng.choice(home)
        community = self.community[grid_id]
        near = [
            w
            for g, ws in self.workers_of.items()
            if self.community.get(g) == community
            for w in ws
            if w not in tried
        ]
        return self.rng.choice(
            near or [w for w in self.site.workers if w not in tried] or list(self.site.workers)
        )

    def _dispatch(
        self, rows: Rows, case: dict[str, Any], grid_id: str, opened: datetime, false_rate: float
    ) -> None:
        rng = self.rng
        tried: list[str] = []
        offered = opened + timedelta(seconds=rng.randrange(2, 30))
        breaches = 0
        for attempt in range(4):
            if offered >= self.end:
                case["status"] = "new" if attempt == 0 else "escalated"
                return
            worker = self._worker_for(grid_id, tried)
            tried.append(worker)
            case["assigned_worker_id"] = worker
            roll = rng.random()
            outcome = "declined" if roll < 0.05 else "expired" if roll < 0.08 else "accepted"
            if attempt == 3:
                outcome = "accepted"
            task_id = self._id()
            task = self._task(task_id, case["id"], worker, offered, case["urgent"])
            rows.add("tasks", task)
            if outcome != "accepted":
                ended = offered + timedelta(seconds=rng.randrange(10, 110) if outcome == "declined" else 120)
                if ended >= self.end:  # still waiting for an answer
                    self._timer(rows, case["id"], task_id, worker, "worker_accept", offered, None)
                    self._timer(rows, case["id"], task_id, worker, "on_site", offered, None)
                    case["status"] = "dispatched"
                    return
                task.update(status=outcome, ended_at=ended, updated_at=ended)
                accept_outcome = "breached" if outcome == "expired" else "cancelled"
                self._timer(
                    rows, case["id"], task_id, worker, "worker_accept", offered, ended, accept_outcome
                )
                self._timer(rows, case["id"], task_id, worker, "on_site", offered, ended, "cancelled")
                if outcome == "expired":
                    breaches += 1
                if attempt >= 1 and rng.random() < 0.7:
                    self._escalate(rows, case["id"], "redispatches", ended)
                offered = ended + timedelta(seconds=rng.randrange(2, 20))
                continue
            self._work(rows, case, task, grid_id, false_rate, breaches)
            return

    def _task(
        self, task_id: str, case_id: str, worker: str, offered: datetime, urgent: bool
    ) -> dict[str, Any]:
        return {
            "id": task_id,
            "case_id": case_id,
            "worker_id": worker,
            "status": "offered",
            "urgent": urgent,
            "offered_at": offered,
            "updated_at": offered,
            "accept_by": offered + timedelta(seconds=LIMITS["worker_accept"]),
            "on_site_by": offered + timedelta(seconds=LIMITS["on_site"]),
            "reason_code": "nearest_on_duty",
            "reason": "generated",
            "shortlist": [],
            "result": None,
            "note": "",
            "accepted_at": None,
            "on_site_at": None,
            "resolved_at": None,
            "verified_at": None,
            "sent_back_at": None,
            "ended_at": None,
        }

    def _work(
        self,
        rows: Rows,
        case: dict[str, Any],
        task: dict[str, Any],
        grid_id: str,
        false_rate: float,
        breaches: int,
    ) -> None:
        rng = self.rng
        worker, offered, case_id, task_id = task["worker_id"], task["offered_at"], case["id"], task["id"]
        speed = self.speed[worker]
        accepted = offered + timedelta(seconds=min(119, self._seconds(45 * speed, 0.6)))
        if accepted >= self.end:
            case["status"] = "dispatched"
            self._timer(rows, case_id, task_id, worker, "worker_accept", offered, None)
            self._timer(rows, case_id, task_id, worker, "on_site", offered, None)
            return
        task.update(status="accepted", accepted_at=accepted, updated_at=accepted)
        case["status"] = "accepted"
        self._timer(rows, case_id, task_id, worker, "worker_accept", offered, accepted, "met")
        on_site = offered + timedelta(seconds=self._seconds(900 * speed, 0.55))
        if on_site >= self.end:
            self._timer(rows, case_id, task_id, worker, "on_site", offered, None)
            return
        task.update(status="on_site", on_site_at=on_site, updated_at=on_site)
        case["status"] = "on_site"
        arrival_breached = (on_site - offered).total_seconds() > LIMITS["on_site"]
        self._timer(
            rows,
            case_id,
            task_id,
            worker,
            "on_site",
            offered,
            on_site,
            "breached" if arrival_breached else "met",
        )
        if arrival_breached:
            breaches += 1
            if rng.random() < 0.6:
                self._escalate(
                    rows, case_id, "sla_breach:on_site", offered + timedelta(seconds=LIMITS["on_site"])
                )
        resolved = on_site + timedelta(seconds=self._seconds(2400 * speed, 0.7))
        if resolved >= self.end:
            self._timer(rows, case_id, task_id, worker, "resolve", on_site, None)
            return
        result = "false_alarm" if rng.random() < false_rate * 0.3 else "handled"
        task.update(status="resolved", resolved_at=resolved, updated_at=resolved, result=result)
        case["status"], case["updated_at"] = "resolved", resolved
        resolve_breached = (resolved - on_site).total_seconds() > LIMITS["resolve"]
        self._timer(
            rows,
            case_id,
            task_id,
            worker,
            "resolve",
            on_site,
            resolved,
            "breached" if resolve_breached else "met",
        )
        if resolve_breached and rng.random() < 0.5:
            self._escalate(
                rows, case_id, "sla_breach:resolve", on_site + timedelta(seconds=LIMITS["resolve"])
            )
        judged = resolved + timedelta(seconds=self._seconds(3 * 3600, 0.8))
        roll = rng.random()
        if judged >= self.end or roll < 0.05:  # not yet checked by the centre
            self._timer(rows, case_id, task_id, worker, "verify", resolved, None)
            return
        self._timer(rows, case_id, task_id, worker, "verify", resolved, judged, "met")
        if roll < 0.11 and breaches < 3:  # sent back for rework, offered again
            task.update(sent_back_at=judged, updated_at=judged, note="sent back by op-centre: generated")
            case["status"] = "reopened"
            again = judged + timedelta(seconds=rng.randrange(5, 60))
            if again >= self.end:
                return
            redo = self._task(self._id(), case_id, worker, again, case["urgent"])
            rows.add("tasks", redo)
            self._work(rows, case, redo, grid_id, false_rate, breaches + 1)
            return
        task.update(status="verified", verified_at=judged, updated_at=judged)
        case["status"], case["updated_at"] = "closed", judged

    def _timer(
        self,
        rows: Rows,
        case_id: str,
        task_id: str | None,
        worker: str | None,
        phase: str,
        started: datetime,
        stopped: datetime | None,
        outcome: str | None = None,
    ) -> None:
        if outcome is None and stopped is not None:
            outcome = "met" if (stopped - started).total_seconds() <= LIMITS[phase] else "breached"
        due = started + timedelta(seconds=LIMITS[phase])
        breached = due if outcome == "breached" else None
        running = outcome is None
        rows.add(
            "sla_timers",
            {
                "key": f"{case_id}:{phase}:{task_id or ''}",
                "case_id": case_id,
                "task_id": task_id,
                "worker_id": worker,
                "phase": phase,
                "detail": "",
                "limit_s": float(LIMITS[phase]),
                "started_at": started,
                "warn_at": started + timedelta(seconds=0.8 * LIMITS[phase]),
                "due_at": due,
                "next_at": due if running else None,
                "warned_at": None,
                "breached_at": breached,
                "stopped_at": None if running else stopped,
                "outcome": outcome,
                "note": "",
            },
        )

    def _escalate(self, rows: Rows, case_id: str, trigger: str, at: datetime) -> None:
        """Up a tier: the grid leader (skipped now and then: no leader, nobody told), the
        community, then the street's centre; each tier is told of a case once."""
        if at >= self.end:
            return
        told = self._told.setdefault(case_id, set())
        if "grid_leader" not in told:
            told.add("grid_leader")
            if self.rng.random() < 0.3:
                rows.add("escalations", self._escalation(case_id, "grid_leader", 0, trigger, "", True, at))
        tier = next((t for t in ("community", "street_centre") if t not in told), None)
        if tier is None:
            return
        told.add(tier)
        target = "社区值班" if tier == "community" else "街道指挥中心"
        rows.add(
            "escalations",
            self._escalation(case_id, tier, 1 if tier == "community" else 2, trigger, target, False, at),
        )

    @staticmethod
    def _escalation(
        case_id: str, tier: str, level: int, trigger: str, target: str, skipped: bool, at: datetime
    ) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "tier": tier,
            "level": level,
            "trigger": trigger,
            "reason": "generated",
            "target": target,
            "skipped": skipped,
            "at": at,
            "actor": "gateway:gen",
        }

    def _patrol(
        self,
        rows: Rows,
        worker_id: str,
        day: date,
        day_start: datetime,
        plan_id: int,
        stop_id: int,
        track_id: int,
    ) -> tuple[int, int, int]:
        rng = self.rng
        begin = day_start + timedelta(hours=1, seconds=rng.randrange(3600))  # 09:00-10:00 site time
        if begin >= self.end:
            return plan_id, stop_id, track_id
        plan_id += 1
        worker = self.site.workers[worker_id]
        home = self.site.areas[worker.home_grid].centroid
        rows.add(
            "patrol_plans",
            {
                "id": plan_id,
                "worker_id": worker_id,
                "day": day.isoformat(),
                "created_at": begin,
                "start_lon": home.lon,
                "start_lat": home.lat,
            },
        )
        route = self.site.patrols.route_of(worker_id)
        checkpoints = (
            list(route.checkpoints) if route else [f"cp-{worker_id}-{i}" for i in range(self.patrol_stops)]
        )
        at = begin
        position = 0
        for cp in checkpoints:
            at += timedelta(seconds=rng.randrange(300, 1500))
            visited = at if rng.random() < self.diligence[worker_id] and at < self.end else None
            stop_id += 1
            rows.add(
                "patrol_stops",
                self._stop(stop_id, plan_id, position, "checkpoint", cp, None, home, begin, visited),
            )
            position += 1
            if rng.random() < 0.1:  # an inspection folded into the route: not a checkpoint
                stop_id += 1
                seen = at if at < self.end else None
                rows.add(
                    "patrol_stops",
                    self._stop(stop_id, plan_id, position, "task", None, self._id(), home, begin, seen),
                )
                position += 1
        last = min(at, self.end - timedelta(seconds=1))
        if last > begin:
            track_id += 1
            rows.add(
                "patrol_tracks",
                {
                    "id": track_id,
                    "worker_id": worker_id,
                    "day": day.isoformat(),
                    "started_at": begin,
                    "last_at": last,
                    "last_lon": home.lon,
                    "last_lat": home.lat,
                    "distance_m": round(rng.uniform(800, 6000), 1),
                    "duration_s": float(int((last - begin).total_seconds())),
                    "fixes": rng.randrange(20, 400),
                    "glitches": rng.randrange(0, 3),
                },
            )
        return plan_id, stop_id, track_id

    @staticmethod
    def _stop(
        stop_id: int,
        plan_id: int,
        position: int,
        kind: str,
        checkpoint: str | None,
        task_id: str | None,
        home: Any,
        added: datetime,
        visited: datetime | None,
    ) -> dict[str, Any]:
        return {
            "id": stop_id,
            "plan_id": plan_id,
            "position": position,
            "kind": kind,
            "checkpoint_id": checkpoint,
            "task_id": task_id,
            "name": checkpoint or "inspection",
            "lon": home.lon,
            "lat": home.lat,
            "added_at": added,
            "detour_m": 0.0,
            "visited_at": visited,
            "cancelled_at": None,
        }


# ---------------------------------------------------------------------- writing
SERIAL_TABLES = ("patrol_plans", "patrol_stops", "patrol_tracks")  # ids given here: sequences follow


def write(engine: Engine, rows: Rows, batch: int = 2000) -> None:
    """Multi-row INSERTs through SQLAlchemy Core (both stores)."""
    from gateway.schema.models import Base

    with engine.begin() as conn:
        for table in TABLES:
            items = rows.tables[table]
            for i in range(0, len(items), batch):
                conn.execute(insert(Base.metadata.tables[table]), items[i : i + batch])
        if engine.dialect.name == "postgresql":
            advance_sequences(conn)


def advance_sequences(conn: Any) -> None:
    """PostgreSQL: the id sequences start after the ids written here (later inserts must not collide)."""
    for table in SERIAL_TABLES:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


def copy_rows(cursor: Any, rows: Rows, columns: dict[str, list[str]]) -> None:
    """PostgreSQL COPY of one chunk (psycopg 3 cursor); ``columns`` per table, in table order."""
    for table in TABLES:
        items = rows.tables[table]
        if not items:
            continue
        cols = columns[table]
        with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for item in items:
                copy.write_row([_pg(item.get(c)) for c in cols])


def _pg(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
