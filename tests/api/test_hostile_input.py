"""Hostile values in every parameter and body field of every route: never a server error, always
the one error shape (issue 11's 31 server errors came from five such causes).

The routes and their fields are read from the committed OpenAPI document; each example puts one
hostile value in one place of an otherwise sensible request, sent by the person whose request
reaches furthest into that route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.openapi import COMMITTED, ENDLESS, role_for
from tests.support.world import World

DOC = json.loads(COMMITTED.read_text(encoding="utf-8"))
# Raw JSON text, put into a body exactly as written (NaN and lone surrogates are not valid JSON).
HOSTILE_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    str(10**40),
    '"\\ud800"',
    '"tail \\udfff"',
    '"\\u0000"',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-05:00"',
    '"0001-01-01"',
    '"9999-12-31"',
    '"2026-11-18T08:00:00"',  # naive
    '"2026-11-18"',
    "[]",
    "{}",
    "null",
    "true",
    '"' + "长" * 5000 + '"',
    '["\\ud800"]',
    "[" + ",".join(["1"] * 2000) + "]",
]
# Query and path values, as they would arrive in a URL (already percent-encoded where needed).
HOSTILE_TEXT = [
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "1e400",
    "NaN",
    "Infinity",
    "%ED%A0%80",  # a lone surrogate, UTF-8-encoded
    "%FF%FE",
    "%00",
    "0001-01-01T00:00:00%2B01:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01",
    "9999-12-31",
    "2026-11-18T08:00:00",  # naive
    "2026-11-18",
    "",
    "x" * 5000,
    quote("网格" * 50),
    "true",
    "-1",
]
FIELD_DEFAULTS: dict[str, str] = {
    "case_id": "case",
    "task_id": "task",
    "worker_id": "worker",
    "evidence_id": "evidence",
    "letter_id": "letter",
    "person_id": "p-spare",
    "token_id": "t-spare",
    "action": "confirm",
    "step": "accept",
}


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    return DOC["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def _places() -> list[tuple[str, str, str, str]]:
    """(method, path, where, name): the credentials, every parameter and body field of every route."""
    out = []
    for path, ops in DOC["paths"].items():
        if path in ENDLESS:
            continue
        for method, op in ops.items():
            # every route: a hostile credential (bearer token, session cookie)
            out.append((method.upper(), path, "header", "authorization"))
            out.append((method.upper(), path, "cookie", "gw_access"))
            for param in op.get("parameters", []):
                out.append((method.upper(), path, param["in"], param["name"]))
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                out.append((method.upper(), path, "body", ""))  # the whole body
                for name in _schema(body["schema"]).get("properties", {}):
                    out.append((method.upper(), path, "body", name))
    return out


PLACES = _places()


def _request(world: World, method: str, path: str, where: str, name: str, value: str) -> Any:
    role = role_for(path)
    for param, kind in FIELD_DEFAULTS.items():
        text = value if (where == "path" and name == param) else str(world.value(kind, "in"))
        path = path.replace("{" + param + "}", text)
    query = f"?{name}={value}" if where == "query" else ""
    headers = dict(world.headers.get(role or "", {}))
    if where == "header":
        headers["Authorization"] = f"Bearer {value}"
    if where == "cookie":
        headers.pop("Authorization", None)
        headers["Cookie"] = f"gw_access={value}"
    content = None
    if where == "body":
        headers["Content-Type"] = "application/json"
        content = value if not name else "{" + json.dumps(name) + ": " + value + "}"
    return world.client.request(method, path + query, headers=headers, content=content)


def test_every_route_and_field_is_covered() -> None:
    paths = {p for _, p, _, _ in PLACES}
    assert paths == {p for p in DOC["paths"] if p not in ENDLESS}
    assert ("GET", "/api/v1/feedback/false-alarms", "query", "since") in PLACES
    assert ("POST", "/api/v1/dead-letters/replay", "body", "ids") in PLACES


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def _explore(world: World, data: st.DataObject) -> None:
    method, path, where, name = data.draw(st.sampled_from(PLACES), label="place")
    value = data.draw(st.sampled_from(HOSTILE_JSON if where == "body" else HOSTILE_TEXT), label="value")
    resp = _request(world, method, path, where, name, value)
    assert resp.status_code < 500, (method, path, where, name, value[:80], resp.text[:300])
    if resp.status_code >= 400:
        body = resp.json()
        assert isinstance(body.get("detail"), str) and body["detail"], (path, body)


def test_hostile_values_never_get_a_server_error(world: World) -> None:
    _explore(world)


def test_the_five_causes_of_issue_11(world: World) -> None:
    """The requests that answered 500 before, each now a clear 4xx (or a right answer)."""
    op = world.headers["operator"]
    json_headers = {**op, "Content-Type": "application/json"}
    case = world.value("case", "in")
    # NaN / Infinity in a body
    r = world.client.post(f"/api/v1/cases/{case}/dismiss", headers=json_headers, content='{"reason": NaN}')
    assert r.status_code == 422 and "NaN is not a JSON number" in r.json()["detail"]
    # a naive datetime: the site's local time, the same on every route
    r = world.client.get("/api/v1/feedback/false-alarms?since=2026-01-01", headers=op)
    assert r.status_code == 200 and r.json()["since"] == "2025-12-31T16:00:00Z"
    r = world.client.get(
        "/api/v1/performance/grids?since=2026-11-18T08:00:00&until=2026-11-18T10:00", headers=op
    )
    assert r.status_code == 200 and r.json()["since"] == "2026-11-18T00:00:00Z"
    # integers past 2^63 in a query, a path, a body
    assert world.client.get(f"/api/v1/cases?offset={2**64}", headers=op).status_code == 422
    assert world.client.get(f"/api/v1/dead-letters/{2**63}/payload", headers=op).status_code == 422
    r = world.client.post(
        "/api/v1/dead-letters/replay", headers=json_headers, content=f'{{"ids": [{2**64}]}}'
    )
    assert r.status_code == 422 and "ids are between 1 and" in r.json()["detail"]
    # dates near year 1 and 9999
    r = world.client.get("/api/v1/performance/workers?since=0001-01-01T00:00:00%2B01:00", headers=op)
    assert r.status_code == 422 and "times between 1971 and 2199" in r.json()["detail"]
    body = '{"available": false, "until": "9999-12-31T23:59:59-05:00"}'
    worker = world.value("worker", "in")
    r = world.client.put(f"/api/v1/workers/{worker}/availability", headers=json_headers, content=body)
    assert r.status_code == 422
    # a lone surrogate in a dismiss reason
    r = world.client.post(
        f"/api/v1/cases/{case}/dismiss", headers=json_headers, content='{"reason": "\\ud800"}'
    )
    assert r.status_code == 422 and "lone surrogate" in r.json()["detail"]


def test_bodies_over_the_cap_are_refused_before_they_are_read(world: World) -> None:
    op = {**world.headers["operator"], "Content-Type": "application/json"}
    big = b'{"reason": "' + b"x" * (1_048_576 + 10) + b'"}'
    r = world.client.post(f"/api/v1/cases/{world.value('case', 'in')}/dismiss", headers=op, content=big)
    assert r.status_code == 413 and "larger than 1048576 bytes" in r.json()["detail"]

    def chunks() -> Any:  # no Content-Length: counted as it streams in
        for _ in range(200):
            yield b"x" * 10_000

    r = world.client.post(f"/api/v1/cases/{world.value('case', 'in')}/dismiss", headers=op, content=chunks())
    assert r.status_code == 413
    # without credentials the body is never looked at: 401, whatever its size
    r = world.client.post(
        "/api/v1/dead-letters/replay", headers={"Content-Type": "application/json"}, content=big
    )
    assert r.status_code == 401


def test_a_store_that_cannot_be_opened_is_a_503_with_a_sentence_not_a_bare_500(
    tmp_path: Path, store_templates: Any
) -> None:
    """The store's volume goes away (unmounted, the file replaced, PostgreSQL down): every route
    answered a plain-text 'Internal Server Error' (500) — not the documented {"detail": ...}, and
    nothing told a page or a script to try again. It is a 503 with the reason and Retry-After,
    and the API answers again as soon as the store is back."""
    import shutil
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from cloud_api.app import create_app
    from contracts.clock import ManualClock
    from contracts.site import load_site
    from tests.support.harness import OPERATORS, ApiTokens
    from tests.support.paths import DEMO_SITE
    from tests.support.people import api_settings

    db = tmp_path / "gridwatch.db"
    store_templates.sqlite_copy(db)
    tokens = ApiTokens(OPERATORS, load_site(DEMO_SITE).workers)
    settings = api_settings(DEMO_SITE, f"sqlite:///{db}", api_tokens=tokens.env())
    clock = ManualClock(datetime(2026, 11, 18, 2, 0, tzinfo=UTC))
    with TestClient(create_app(settings, clock=clock), headers=tokens.operator()) as client:
        assert client.get("/api/v1/cases").status_code == 200
        app = client.app
        shutil.move(db, tmp_path / "away.db")
        db.mkdir()  # what is at the path cannot be opened as a database
        for sessions in (app.state.sessions, app.state.read_sessions):
            sessions.kw["bind"].dispose()  # no connection opened before lives on
        for resp in (
            client.get("/api/v1/cases"),
            client.put("/api/v1/workers/w-ma-li/availability", json={"available": False, "by": "op-1"}),
        ):
            assert resp.status_code == 503, resp.text
            assert "try again" in resp.json()["detail"] and int(resp.headers["retry-after"]) > 0
        db.rmdir()
        shutil.move(tmp_path / "away.db", db)
        assert client.get("/api/v1/cases").status_code == 200
