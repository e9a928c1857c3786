"""Dead letters: kept with reason, topic, source and payload; listed and replayed after a fix."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from contracts import encode, topics
from contracts.codec import MAX_PAYLOAD_BYTES
from gateway.cases.models import Case
from gateway.events.models import DeadLetter
from gateway.flows.ingest import Incoming, Outcome
from gridwatch.cli import app
from tests.support.harness import ApiTokens, Harness
from tests.support.paths import DEMO_SITE


@pytest.fixture
def api(api: TestClient, api_tokens: ApiTokens) -> TestClient:
    """The API as operator op-li's screen uses it."""
    api.headers.update(api_tokens.operator("op-li"))
    return api


def letters(h: Harness) -> list[DeadLetter]:
    with h.sessions() as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def n_cases(h: Harness) -> int:
    with h.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


@pytest.fixture
def a_bug_then_a_fix(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Incoming:
    """An alarm that hit a bug in the gateway (dead-lettered: processing_error); then the fix is deployed."""
    import gateway.flows.hazard_events as hazard_flow

    event = harness.event("smk-rental-12")
    msg = Incoming(topics.node_event(event.source), encode(event))

    def bug(*_a: object, **_k: object) -> None:
        raise KeyError("grid index out of date")

    monkeypatch.setattr(hazard_flow, "record_hazard", bug)
    assert harness.pipeline.process([msg]) == [Outcome.DEAD_LETTER]
    monkeypatch.undo()
    return msg


def test_a_dead_letter_keeps_what_an_operator_needs(harness: Harness) -> None:
    payload = b'{"kind": "hazard_event", "seq": "seven"}'
    harness.pipeline.process([Incoming(topics.node_event("node-gongye-1"), payload)])
    huge = b"x" * (MAX_PAYLOAD_BYTES + 10)
    harness.pipeline.process([Incoming(topics.node_reading("node-donghu-1"), huge)])
    first, second = letters(harness)
    assert (first.reason, first.topic, first.source) == (
        "invalid",
        "gridwatch/v1/node/node-gongye-1/event",
        "node-gongye-1",
    )
    assert first.payload == payload and first.payload_size == len(payload)
    assert "seq" in first.detail or "Field required" in first.detail
    assert second.reason == "too_large" and second.payload_size == len(huge)
    assert 0 < len(second.payload) < len(huge)  # bounded: only the start of what can never be valid


def test_replay_over_the_api_after_a_fix(
    harness: Harness, api: TestClient, a_bug_then_a_fix: Incoming
) -> None:
    harness.pipeline.process([Incoming(topics.node_event("node-gongye-1"), b"{not json")])
    bug, garbage = letters(harness)
    assert bug.reason == "processing_error" and "grid index out of date" in bug.detail
    listed = api.get("/api/v1/dead-letters").json()
    assert [d["id"] for d in listed] == [garbage.id, bug.id]
    assert api.get("/api/v1/dead-letters/summary").json() == {"processing_error": 1, "bad_json": 1}
    raw = api.get(f"/api/v1/dead-letters/{bug.id}/payload")
    assert raw.content == a_bug_then_a_fix.payload and raw.headers["x-topic"] == bug.topic

    r = api.post("/api/v1/dead-letters/replay", json={"operator": "op-li", "ids": [bug.id, garbage.id]})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["replayed"], report["accepted"]) == (2, 1)
    results = {i["id"]: i["result"] for i in report["items"]}
    assert results == {bug.id: "applied", garbage.id: "still_invalid"}
    assert n_cases(harness) == 1
    assert len(letters(harness)) == 2  # a replay that fails again is not a new dead letter
    again = api.post("/api/v1/dead-letters/replay", json={"operator": "op-li", "ids": [bug.id]}).json()
    assert again["items"][0]["result"] == "duplicate"  # replays never open a second case
    assert n_cases(harness) == 1
    row = {d.id: d for d in letters(harness)}[bug.id]
    assert (row.replay_count, row.replayed_by, row.replay_result) == (2, "operator:op-li", "duplicate")
    assert api.post("/api/v1/dead-letters/replay", json={"operator": "op-li"}).status_code == 422
    assert (
        api.post("/api/v1/dead-letters/replay", json={"operator": "op-li", "ids": [999]}).status_code == 404
    )


def test_replay_from_the_command_line(harness: Harness, db_url: str, a_bug_then_a_fix: Incoming) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["deadletters", "list", "--db", db_url])
    assert listed.exit_code == 0, listed.output
    assert "processing_error 1" in listed.output
    [bug] = letters(harness)
    shown = runner.invoke(app, ["deadletters", "show", str(bug.id), "--db", db_url])
    assert shown.exit_code == 0 and a_bug_then_a_fix.payload.decode() in shown.stdout
    replayed = runner.invoke(
        app,
        [
            "deadletters",
            "replay",
            "--reason",
            "processing_error",
            "--db",
            db_url,
            "--site",
            str(DEMO_SITE),
            "--operator",
            "op-zhao",
        ],
    )
    assert replayed.exit_code == 0, replayed.output
    assert "applied" in replayed.output and "1 accepted" in replayed.output
    assert n_cases(harness) == 1
    nothing = runner.invoke(app, ["deadletters", "replay", "--reason", "processing_error", "--db", db_url])
    assert "nothing to replay" in nothing.output
