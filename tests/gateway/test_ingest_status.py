"""What operators see of ingest: each source's sequence and each gateway's heartbeat (API)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from contracts import encode, topics
from gateway.flows.ingest import Incoming
from gateway.heartbeat import service as heartbeat
from tests.support.harness import Harness


def test_sources_with_gaps_and_gateways_with_warnings(harness: Harness, api: TestClient) -> None:
    for seq in (1, 2, 6):
        event = harness.event("smk-factory-a1", seq=seq, state="update")
        harness.pipeline.process([Incoming(topics.node_event(event.source), encode(event))])
    [source] = api.get("/api/v1/sources", params={"gaps": True}).json()
    assert (source["source"], source["max_seq"], source["open_gaps"]) == ("node-gongye-1", 6, [[3, 5]])
    assert api.get("/api/v1/sources").json()[0]["messages_total"] == 3

    with harness.sessions.begin() as s:
        heartbeat.beat(
            s, "gateway-a", harness.clock.now(), harness.clock.now(), 1234, True,
            ["telemetry store http://influx:8086 failing: refused"], {"healthy": False},
        )  # fmt: skip
    [gw] = api.get("/api/v1/gateways").json()
    assert gw["alive"] and gw["messages_total"] == 1234
    assert gw["warnings"] == ["telemetry store http://influx:8086 failing: refused"]
    harness.clock.advance(60)
    [gw] = api.get("/api/v1/gateways").json()
    assert not gw["alive"] and gw["warnings"][0].startswith("no heartbeat since")
