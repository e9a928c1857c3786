"""False-alarm feedback per device and zone, for tuning the edge rules.

Two witnesses count: an operator dismissing a case as a false alarm, and a
worker resolving a task with the result ``false_alarm`` after going there.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from contracts.site import Site
from contracts.site.models import Camera
from gateway.cases.models import Case, FalseAlarmFeedback
from gateway.dispatch.models import Task


class FalseAlarmReason(StrEnum):
    """Why the centre judged a case a false alarm (the console's list; its words are in
    cloud_api/static/common/messages.js, ``false_alarm.<code>``)."""

    STEAM_COOKING = "steam_cooking"  # 水汽/油烟: steam, cooking smoke, dust
    LIGHT = "light"  # 灯光/反光: headlights, reflections, sunlight
    PEOPLE_AT_WORK = "people_at_work"  # 正常作业/值守: authorised people, a guard on his round
    ANIMAL = "animal"
    OBJECT = "object"  # 物体误识别: a sign, a cone, clothes taken for a person or flames
    TEST = "test"  # 测试/维保: a test, maintenance, a drill
    DEVICE_FAULT = "device_fault"  # 设备故障
    OTHER = "other"  # 其他 (the note says what)


class FalseAlarmStats(BaseModel):
    device_id: str | None
    zone_id: str | None
    hazard_type: str
    dismissed_by_centre: int
    found_false_on_site: int
    cases: int
    last_at: datetime | None

    @property
    def false_alarms(self) -> int:
        return self.dismissed_by_centre + self.found_false_on_site


def false_alarm_stats(
    session: Session,
    since: datetime | None = None,
    where: ColumnElement[bool] | None = None,
    until: datetime | None = None,
) -> list[FalseAlarmStats]:
    """Per (device, zone, hazard): false alarms and all cases raised, most false alarms first.
    ``where``: only cases meeting this condition (e.g. the caller's areas); ``since`` and
    ``until``: judged (and raised) in that period."""
    key = (Case.device_id, Case.zone_id, Case.hazard_type)
    totals: dict[tuple, dict[str, object]] = defaultdict(
        lambda: {"dismissed": 0, "on_site": 0, "cases": 0, "last": None}
    )

    def bump(rows: object, field: str) -> None:
        for device, zone, hazard, n, last in rows:  # type: ignore[attr-defined]
            entry = totals[(device, zone, hazard)]
            entry[field] = int(n)
            if last is not None and (entry["last"] is None or last > entry["last"]):  # type: ignore[operator]
                entry["last"] = last

    dismissed = select(
        FalseAlarmFeedback.device_id,
        FalseAlarmFeedback.zone_id,
        FalseAlarmFeedback.hazard_type,
        func.count(),
        func.max(FalseAlarmFeedback.at),
    ).group_by(FalseAlarmFeedback.device_id, FalseAlarmFeedback.zone_id, FalseAlarmFeedback.hazard_type)
    on_site = (
        select(*key, func.count(), func.max(Task.resolved_at))
        .join(Case, Case.id == Task.case_id)
        .where(Task.result == "false_alarm")
        .group_by(*key)
    )
    raised = select(*key, func.count(), func.max(Case.opened_at)).group_by(*key)
    if since is not None:
        dismissed = dismissed.where(FalseAlarmFeedback.at >= since)
        on_site = on_site.where(Task.resolved_at >= since)
        raised = raised.where(Case.opened_at >= since)
    if until is not None:
        dismissed = dismissed.where(FalseAlarmFeedback.at < until)
        on_site = on_site.where(Task.resolved_at < until)
        raised = raised.where(Case.opened_at < until)
    if where is not None:
        dismissed = dismissed.join(Case, Case.id == FalseAlarmFeedback.case_id).where(where)
        on_site = on_site.where(where)
        raised = raised.where(where)
    bump(session.execute(dismissed), "dismissed")
    bump(session.execute(on_site), "on_site")
    for device, zone, hazard, n, _last in session.execute(raised):
        if (device, zone, hazard) in totals:
            totals[(device, zone, hazard)]["cases"] = int(n)
    stats = [
        FalseAlarmStats(
            device_id=device,
            zone_id=zone,
            hazard_type=hazard,
            dismissed_by_centre=int(v["dismissed"]),  # type: ignore[call-overload]
            found_false_on_site=int(v["on_site"]),  # type: ignore[call-overload]
            cases=int(v["cases"]),  # type: ignore[call-overload]
            last_at=v["last"],  # type: ignore[arg-type]
        )
        for (device, zone, hazard), v in totals.items()
    ]
    return sorted(stats, key=lambda s: (-s.false_alarms, s.device_id or "", s.zone_id or ""))


class NoisyDevice(BaseModel):
    device_id: str
    name: str
    kind: Literal["camera", "sensor", "unknown"]
    node_id: str | None
    grid_id: str | None
    grid_name: str
    false_alarms: int  # dismissed by the centre + found false on site
    dismissed_by_centre: int
    found_false_on_site: int
    cases: int  # cases the device raised in the period
    false_share: float | None  # false alarms ÷ cases raised (can pass 1: judged later than raised)
    top_zone: str | None  # the camera zone (or None) with most false alarms
    top_hazard: str


def noisy_devices(
    session: Session,
    site: Site,
    since: datetime,
    until: datetime,
    grids: frozenset[str] | None = None,
    limit: int = 50,
) -> list[NoisyDevice]:
    """The devices and cameras raising most false alarms (to fix or re-aim): per device, false
    alarms judged in [since, until) (dismissed by the centre or found false on site) of cases in
    ``grids`` (None: anywhere), with the cases it raised then; most false alarms first."""
    where = None if grids is None else Case.grid_id.in_(sorted(grids))
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"dismissed": 0, "on_site": 0, "cases": 0})
    worst: dict[str, tuple[int, str | None, str]] = {}
    for st in false_alarm_stats(session, since, where, until):
        if st.device_id is None:
            continue  # a worker's own report: no device to fix
        entry = per[st.device_id]
        entry["dismissed"] += st.dismissed_by_centre
        entry["on_site"] += st.found_false_on_site
        entry["cases"] += st.cases
        if st.false_alarms > worst.get(st.device_id, (-1, None, ""))[0]:
            worst[st.device_id] = (st.false_alarms, st.zone_id, st.hazard_type)
    out = []
    for device_id, v in per.items():
        false = v["dismissed"] + v["on_site"]
        if not false:
            continue
        found = site.device(device_id)
        node, device = found if found is not None else (None, None)
        grid = site.grid_containing(device.location) if device is not None else None
        kind: Literal["camera", "sensor", "unknown"] = (
            "unknown" if device is None else ("camera" if isinstance(device, Camera) else "sensor")
        )
        out.append(
            NoisyDevice(
                device_id=device_id,
                name=(device.name or device_id) if device is not None else device_id,
                kind=kind,
                node_id=node,
                grid_id=grid.id if grid else None,
                grid_name=grid.name if grid else "",
                false_alarms=false,
                dismissed_by_centre=v["dismissed"],
                found_false_on_site=v["on_site"],
                cases=v["cases"],
                false_share=round(false / v["cases"], 3) if v["cases"] else None,
                top_zone=worst[device_id][1],
                top_hazard=worst[device_id][2],
            )
        )
    out.sort(key=lambda d: (-d.false_alarms, -(d.false_share or 0), d.device_id))
    out = out[:limit]
    unplaced = [d for d in out if d.grid_id is None]
    if unplaced:  # not in the site's files (any more): the grid most of its cases lay in
        counts = session.execute(
            select(Case.device_id, Case.grid_id, func.count())
            .where(Case.device_id.in_([d.device_id for d in unplaced]), Case.grid_id.is_not(None))
            .group_by(Case.device_id, Case.grid_id)
        ).all()
        best: dict[str, tuple[int, str]] = {}
        for device_id, grid_id, n in counts:
            if (n, grid_id) > best.get(device_id, (0, "")):
                best[device_id] = (n, grid_id)
        for d in unplaced:
            if d.device_id in best:
                d.grid_id = best[d.device_id][1]
                grid_area = site.areas.get(d.grid_id)
                d.grid_name = grid_area.name if grid_area else d.grid_id
    return out
