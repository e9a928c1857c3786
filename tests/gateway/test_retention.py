"""Retention at the gateway: evidence and dead letters by age and by quota, oldest first, and a
case's evidence kept while the case is open — on SQLite and PostgreSQL, through the real
pipeline (alarms, snapshots, refused payloads) and the real operator actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from contracts import topics
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.events.models import DeadLetter
from gateway.evidence.models import Evidence
from gateway.flows import case_decisions
from gateway.retention.service import MB, Retention
from gateway.retention.settings import RetentionSettings
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from gridwatch.cli import app
from tests.support.clock import site_time
from tests.support.evidence import snapshot
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

DAY = timedelta(days=1)


def _evidence_ids(h: Harness) -> set[str]:
    with h.sessions() as s:
        return set(s.scalars(select(Evidence.id)))


def _letters(h: Harness) -> list[str]:
    with h.sessions() as s:
        return list(s.scalars(select(DeadLetter.topic).order_by(DeadLetter.id)))


def _snap(h: Harness, event_id: str | None) -> str:
    snap = snapshot(h, event_id)
    h.send(topics.node_evidence(snap.source), snap)
    return snap.evidence_id


def _bad(h: Harness, tag: str) -> None:
    h.send(f"gridwatch/v1/node/node-gongye-1/{tag}", b"{not json")


def _retention(h: Harness, **settings: object) -> Retention:
    base = {"evidence_quota_mb": None, "dead_letter_quota_mb": None, **settings}
    return Retention(h.engine, h.sessions, RetentionSettings(**base))  # type: ignore[arg-type]


def test_old_evidence_goes_unless_its_case_is_open_or_closed_recently(
    harness: Harness, api: TestClient
) -> None:
    h = harness
    closing, _ = h.raise_event("smk-factory-a1")
    of_closed = _snap(h, closing.id)  # its case is dismissed on day 175
    staying, _ = h.raise_event("smk-gongye-dorm-3")
    of_open = _snap(h, staying.id)  # its case stays open
    loose = _snap(h, None)  # belongs to no case
    _bad(h, "event")
    with h.sessions() as s:
        by_device = {c.device_id: c.id for c in s.scalars(select(Case))}
    h.clock.advance(days=175)
    with h.sessions.begin() as s:
        case_decisions.dismiss(s, h.ctx, by_device["smk-factory-a1"], "op-1", "cooking smoke", h.clock.now())
    h.clock.advance(days=5)
    _bad(h, "health")  # a recent dead letter

    h.clock.advance(days=1)  # day 181
    report = _retention(h, evidence_days=180, dead_letter_days=30).sweep(h.clock.now())
    assert _evidence_ids(h) == {of_closed, of_open}
    assert (report.evidence_expired, report.evidence_kept_for_open_cases) == (1, 1)
    assert _letters(h) == ["gridwatch/v1/node/node-gongye-1/health"]
    assert api.get(f"/api/v1/evidence/{loose}.jpg").status_code == 404
    assert api.get(f"/api/v1/evidence/{of_open}.jpg").status_code == 200

    h.clock.advance(days=175)  # 180 days after the dismissal: its evidence goes; the open case's stays
    _retention(h, evidence_days=180, dead_letter_days=30).sweep(h.clock.now())
    assert _evidence_ids(h) == {of_open}


def test_over_the_quota_the_oldest_go_first_but_never_an_open_cases(harness: Harness) -> None:
    h = harness
    open_event, _ = h.raise_event("smk-factory-a1")
    oldest = _snap(h, open_event.id)  # the oldest of all, but its case is open
    loose = []
    for _ in range(6):
        h.clock.advance(hours=1)
        loose.append(_snap(h, None))
    for i in range(7):
        h.clock.advance(minutes=1)
        _bad(h, f"x{i}")
    with h.sessions() as s:
        size = dict(s.execute(select(Evidence.id, func.length(Evidence.jpeg))).all())
        letter_sizes = list(s.scalars(select(func.length(DeadLetter.payload)).order_by(DeadLetter.id)))
    # room for the open case's snapshot and the three newest loose ones, not a byte more
    quota = size[oldest] + sum(size[e] for e in loose[-3:])
    letters_quota = sum(letter_sizes[-2:])
    report = _retention(
        h, evidence_quota_mb=quota / MB, dead_letter_quota_mb=letters_quota / MB, evidence_days=None
    ).sweep(h.clock.now())
    assert _evidence_ids(h) == {oldest, *loose[-3:]}
    assert report.evidence_over_quota == 3 and report.evidence_bytes == quota
    assert _letters(h) == ["gridwatch/v1/node/node-gongye-1/x5", "gridwatch/v1/node/node-gongye-1/x6"]


def test_a_dry_run_deletes_nothing(harness: Harness) -> None:
    h = harness
    loose = _snap(h, None)
    h.clock.advance(days=10)
    report = _retention(h, evidence_days=1).sweep(h.clock.now(), dry_run=True)
    assert report.deleted_ids["evidence"] == [loose]
    assert _evidence_ids(h) == {loose}


def test_the_command_says_what_it_would_delete_and_then_deletes_it(harness: Harness, db_url: str) -> None:
    h = harness
    h.clock.set(datetime.now(UTC) - timedelta(days=40))  # the command runs on today's clock
    _snap(h, None)
    _bad(h, "event")
    env = {"GRIDWATCH_RETENTION_EVIDENCE_DAYS": "30", "GRIDWATCH_RETENTION_DEAD_LETTER_DAYS": "30"}
    runner = CliRunner()
    dry = runner.invoke(app, ["db", "retention", "--db", db_url, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert (
        "evidence: would delete 1 past 30.0 days" in dry.output
        and "dead letters: would delete 1" in dry.output
    )
    assert len(_evidence_ids(h)) == 1 and len(_letters(h)) == 1
    done = runner.invoke(app, ["db", "retention", "--db", db_url], env=env)
    assert done.exit_code == 0 and "evidence: deleted 1" in done.output, done.output
    assert _evidence_ids(h) == set() and _letters(h) == []


def test_a_running_gateway_sweeps_on_its_own(mosquitto: Mosquitto, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = site_time(10)
    with session_factory(engine).begin() as s:
        for age_days, topic in ((40, "old"), (2, "recent")):
            s.add(
                DeadLetter(
                    received_at=clock.now() - timedelta(days=age_days),
                    topic=topic,
                    reason="bad_json",
                    detail="",
                    payload=b"x",
                    payload_size=1,
                )
            )
    retention = RetentionSettings(dead_letter_days=30)
    sessions = session_factory(engine)

    def letters() -> list[str]:
        with sessions() as s:
            return list(s.scalars(select(DeadLetter.topic)))

    with running_gateway(mosquitto, sqlite_url, DEMO_SITE, clock=clock, retention=retention, heartbeat_s=0.2):
        wait_until(lambda: letters() == ["recent"], what="the sweep")
    engine.dispose()


def test_a_workers_photo_for_an_open_cases_task_is_kept(harness: Harness) -> None:
    h = harness
    h.raise_event("smk-factory-a1")  # an urgent alarm: dispatched to a worker at once
    with h.sessions() as s:
        task = s.scalars(select(Task)).one()
    photo = snapshot(h, None)
    with h.sessions.begin() as s:  # uploaded by the phone for the task, not on the case's list (yet)
        s.add(
            Evidence(
                id="photo-1",
                event_id=None,
                task_id=task.id,
                device_id=task.worker_id,
                source=task.worker_id,
                taken_at=h.clock.now(),
                received_at=h.clock.now(),
                width=photo.width,
                height=photo.height,
                sha256=photo.sha256,
                jpeg=b"\xff\xd8" + b"x" * 100,
            )
        )
    h.clock.advance(days=400)
    _retention(h, evidence_days=180).sweep(h.clock.now())
    assert _evidence_ids(h) == {"photo-1"}
