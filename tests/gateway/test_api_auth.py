"""Who may act over the HTTP API with access.yaml-style tokens: operators on cases, workers on their
own tasks (Bearer tokens). Sign-in, roles and areas: tests/api/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from contracts.site.access import hash_token
from tests.support.dispatching import tasks
from tests.support.harness import ApiTokens, Harness


def test_actions_and_reads_without_a_valid_token_are_refused_with_401(
    harness: Harness, api: TestClient, anon: TestClient
) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    for headers in ({}, {"Authorization": "Bearer gwt_made-up"}, {"Authorization": "Basic b3A6cHc="}):
        r = anon.post(f"/api/v1/tasks/{task.id}/accept", json={"worker_id": "w-ma-li"}, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == "application/json"
        assert r.json()["detail"]
    assert (
        "Authorization: Bearer <token>"
        in anon.post(f"/api/v1/cases/{task.case_id}/confirm", json={}).json()["detail"]
    )
    assert tasks(harness)[0].status == "offered"  # nothing changed
    # reads too: nothing but sign-in and health without credentials
    for url in ("/api/v1/cases", f"/api/v1/tasks/{task.id}", "/api/v1/workers", "/api/v1/dead-letters"):
        assert anon.get(url).status_code == 401, url
        assert api.get(url).status_code == 200, url  # the operator's token
    assert anon.get("/api/v1/health").status_code == 200


def test_a_worker_acts_only_on_their_own_tasks(
    harness: Harness, api: TestClient, api_tokens: ApiTokens
) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    assert task.worker_id == "w-ma-li"
    url = f"/api/v1/tasks/{task.id}"
    other = api.post(f"{url}/accept", json={}, headers=api_tokens.worker("w-hu-bin"))
    assert (
        other.status_code == 403 and other.json()["detail"] == f"task {task.id} is not yours: it is w-ma-li's"
    )
    posing = api.post(f"{url}/accept", json={"worker_id": "w-ma-li"}, headers=api_tokens.worker("w-hu-bin"))
    assert (
        posing.status_code == 403 and "does not match the caller (worker w-hu-bin)" in posing.json()["detail"]
    )
    as_operator = api.post(f"{url}/accept", json={}, headers=api_tokens.operator())
    assert (
        as_operator.status_code == 403
        and as_operator.json()["detail"] == "operator op-1 may not do this (tasks:step)"
    )
    assert tasks(harness)[0].status == "offered"

    mine = api.post(
        f"{url}/accept", json={}, headers=api_tokens.worker("w-ma-li")
    )  # worker_id from the token
    assert mine.status_code == 200 and mine.json()["status"] == "accepted"

    # check-ins and availability: only as oneself (operators may set anyone's availability)
    here = {"lon": 120.0, "lat": 31.0}
    r = api.post("/api/v1/workers/w-ma-li/patrol/check-in", json=here, headers=api_tokens.worker("w-hu-bin"))
    assert r.status_code == 403
    away = {"available": False, "reason": "sick"}
    r = api.put("/api/v1/workers/w-ma-li/availability", json=away, headers=api_tokens.worker("w-hu-bin"))
    assert r.status_code == 403 and "outside what worker w-hu-bin may see or do" in r.json()["detail"]
    r = api.put("/api/v1/workers/w-hu-bin/availability", json=away, headers=api_tokens.worker("w-hu-bin"))
    assert r.status_code == 200 and r.json()["updated_by"] == "w-hu-bin"
    r = api.put(
        "/api/v1/workers/w-hu-bin/availability", json={"available": True}, headers=api_tokens.operator()
    )
    assert r.status_code == 200 and r.json()["updated_by"] == "op-1"


def test_operators_decide_on_cases_as_themselves(
    harness: Harness, api: TestClient, api_tokens: ApiTokens
) -> None:
    harness.raise_event("smk-factory-a1")
    [task] = tasks(harness)
    url = f"/api/v1/cases/{task.case_id}/confirm"
    by_worker = api.post(url, json={}, headers=api_tokens.worker("w-ma-li"))
    assert by_worker.status_code == 403
    assert by_worker.json()["detail"] == "worker w-ma-li may not do this (cases:decide)"
    posing = api.post(url, json={"operator": "op-wang"}, headers=api_tokens.operator("op-li"))
    assert posing.status_code == 403 and "operator 'op-wang' does not match" in posing.json()["detail"]
    r = api.post(url, json={}, headers=api_tokens.operator("op-li"))
    assert r.status_code == 200
    assert r.json()["transitions"][-1]["actor"] == "operator:op-li"  # the trail names the token's holder
    reassign = api.post(f"/api/v1/tasks/{task.id}/reassign", json={}, headers=api_tokens.worker("w-ma-li"))
    assert reassign.status_code == 403


def test_tokens_from_the_sites_access_file(site_copy: Path, harness: Harness, db_url: str) -> None:
    (site_copy / "access.yaml").write_text(
        yaml.safe_dump(
            {"operators": [{"id": "op-zhao", "sha256": hash_token("s3cret-zhao"), "note": "desk 2"}]}
        )
    )
    app = create_app(ApiSettings(site_dir=site_copy, database_url=db_url), clock=harness.clock)
    with TestClient(app) as api:
        harness.raise_event("smk-factory-a1")
        [task] = tasks(harness)
        url = f"/api/v1/cases/{task.case_id}/confirm"
        assert api.post(url, json={}, headers={"Authorization": "Bearer s3cret-zhao"}).status_code == 200
        assert api.post(url, json={}, headers={"Authorization": "Bearer s3cret-zha"}).status_code == 401


def test_a_call_without_credentials_says_how_to_sign_in(harness: Harness, db_url: str) -> None:
    from tests.support.paths import DEMO_SITE

    with TestClient(
        create_app(ApiSettings(site_dir=DEMO_SITE, database_url=db_url), clock=harness.clock)
    ) as api:
        r = api.post("/api/v1/cases/x/confirm", json={})
        assert r.status_code == 401 and "sign in first" in r.json()["detail"]
        assert "docs/api-access.md" in r.json()["detail"]


def test_an_env_token_for_an_unknown_worker_stops_the_api_at_start(db_url: str) -> None:
    from tests.support.paths import DEMO_SITE

    settings = ApiSettings(
        site_dir=DEMO_SITE, database_url=db_url, api_tokens=f"worker:w-ghost:{hash_token('x')}"
    )
    with pytest.raises(ValueError, match=r"GRIDWATCH_API_TOKENS\[0\]: unknown worker 'w-ghost'"):
        create_app(settings)
