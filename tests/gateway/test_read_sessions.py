"""Operators' reads never hold up ingest: GET routes read without taking SQLite's write lock."""

from __future__ import annotations

import importlib
import pkgutil
import threading

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

import cloud_api.routes
from cloud_api.deps import get_read_session, get_session
from gateway.cases import queries
from tests.support.harness import Harness


def test_a_slow_read_does_not_hold_up_an_ingest_commit(
    harness: Harness, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_list = queries.list_cases
    reading, release = threading.Event(), threading.Event()

    def heavy_list(session: Session, *args: object) -> list[queries.CaseView]:
        items = real_list(session, *args)  # type: ignore[arg-type]
        reading.set()
        release.wait(60)  # an operator's heavy report, still inside its transaction
        return items

    monkeypatch.setattr(queries, "list_cases", heavy_list)
    answers: list[Response] = []
    reader = threading.Thread(target=lambda: answers.append(api.get("/api/v1/cases")))
    reader.start()
    try:
        assert reading.wait(10), "the list request never reached the store"
        committed = threading.Event()

        def ingest() -> None:
            harness.raise_event("smk-factory-a1")
            committed.set()

        threading.Thread(target=ingest, daemon=True).start()
        assert committed.wait(5), "the gateway's commit waited for an operator's read"
    finally:
        release.set()
        reader.join(30)
    assert answers[0].status_code == 200
    monkeypatch.undo()
    assert api.get("/api/v1/cases").json()["count"] == 1


def _calls(dependant: Dependant) -> set[object]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def test_every_get_route_reads_through_the_read_only_session() -> None:
    routes = [
        route
        for info in pkgutil.iter_modules(cloud_api.routes.__path__)
        for route in importlib.import_module(f"cloud_api.routes.{info.name}").router.routes
        if isinstance(route, APIRoute)
    ]
    writers = [r.path for r in routes if "GET" in r.methods and get_session in _calls(r.dependant)]
    assert writers == [], "GET routes taking the write session (BEGIN IMMEDIATE on SQLite)"
    assert sum(get_read_session in _calls(r.dependant) for r in routes) > 10
