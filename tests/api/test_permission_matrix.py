"""Every API route × every role × in and out of the caller's area, as tests/api/permissions.yaml says.

The route list comes from the app itself: a route the matrix does not name fails, so a new route
cannot ship without someone deciding who may call it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from httpx import Response

from cloud_api.auth.guard import api_routes
from tests.support.world import PEOPLE, World

MATRIX_FILE = Path(__file__).with_name("permissions.yaml")
MATRIX: dict[str, dict[str, Any]] = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
ROLES = list(PEOPLE)
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


def _routes(client: TestClient) -> list[str]:
    return sorted(f"{m} {r.path}" for r in api_routes(client.app.routes) for m in r.methods)  # type: ignore[attr-defined]


def _fill(value: Any, world: World, where: str) -> Any:
    """Placeholders like "{letter}" in bodies become the world's object (or its password)."""
    if isinstance(value, dict):
        return {k: _fill(v, world, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world, where) for v in value]
    if isinstance(value, str) and (m := _PLACEHOLDER.match(value)):
        return world.value(m.group(1), where)
    return value


def _call(world: World, route: str, spec: dict[str, Any], where: str, headers: dict[str, str]) -> Response:
    method, path = route.split(" ", 1)
    for name, kind in (spec.get("path") or {}).items():
        path = path.replace("{" + name + "}", str(world.value(kind, where)))
    kwargs: dict[str, Any] = {"headers": headers}
    if "body" in spec:
        kwargs["json"] = _fill(spec["body"], world, where)
    elif method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    if spec.get("stream"):
        with world.client.stream(method, path, **kwargs) as resp:
            return resp  # the status and headers are in; the endless body is left unread
    return world.client.request(method, path, **kwargs)


def _listed(resp: Response, spec: dict[str, Any]) -> set[Any]:
    body = resp.json()
    items = body[spec["items"]] if spec["items"] else body
    return {item[spec["key"]] for item in items}


def test_the_matrix_names_every_route_and_only_routes_that_exist(world: World) -> None:
    routes = _routes(world.client)
    missing = [r for r in routes if r not in MATRIX]
    assert missing == [], f"routes without a line in {MATRIX_FILE.name}: decide who may call them"
    stale = [r for r in MATRIX if r not in routes]
    assert stale == [], f"lines in {MATRIX_FILE.name} for routes that do not exist"
    # the walk over the app finds every route FastAPI documents (it would miss some if the way
    # FastAPI keeps included routers changed again)
    documented = {
        f"{method.upper()} {path}"
        for path, ops in world.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in ops
    }
    assert documented <= set(routes)
    for route, spec in MATRIX.items():
        if spec.get("public"):
            continue
        assert set(spec["roles"]) == set(ROLES), route
        assert set(spec["roles"].values()) <= {"all", "none", "area"}, route
        if "area" in spec["roles"].values() and not spec.get("path") and "list" not in spec:
            assert "{" in str(spec.get("body")), (
                f"{route}: 'area' needs an object in the path, body or a list"
            )


def test_every_route_answers_each_role_in_and_out_of_area_as_the_matrix_says(world: World) -> None:
    failures: list[str] = []

    def check(ok: bool, route: str, what: str, resp: Response) -> None:
        if not ok:
            failures.append(f"{route} {what}: {resp.status_code} {resp.text[:200]}")

    for route in _routes(world.client):
        spec = MATRIX[route]
        if spec.get("public"):
            resp = _call(world, route, spec, "in", {})
            check(resp.status_code < 500 and "sign in first" not in resp.text, route, "anonymous", resp)
            continue
        anonymous = _call(world, route, spec, "in", {})
        check(anonymous.status_code == 401, route, "anonymous", anonymous)
        for role in ROLES:
            expected = spec["roles"][role]
            headers = world.headers[role]
            inside = _call(world, route, spec, "in", headers)
            allowed = inside.status_code not in (401, 403) and inside.status_code < 500
            if expected == "none":
                check(inside.status_code == 403, route, f"{role} in area: refused", inside)
                continue
            check(allowed, route, f"{role} in area: allowed", inside)
            if expected == "all" or not allowed:
                continue
            if "list" in spec:
                listed = _listed(inside, spec["list"])
                kind = spec["list"]["of"]
                check(world.value(kind, "in") in listed, route, f"{role}: lists its own {kind}", inside)
                check(
                    world.value(kind, "out") not in listed, route, f"{role}: hides the other {kind}", inside
                )
            else:
                outside = _call(world, route, spec, "out", headers)
                check(outside.status_code == 403, route, f"{role} out of area: refused", outside)
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_me_says_who_and_what_each_role_may_do(world: World, role: str) -> None:
    me = world.client.get("/api/v1/me", headers=world.headers[role]).json()
    who = PEOPLE[role]
    assert me["id"] == who["id"] and me["roles"] == [r.value for r in who["roles"]]
    assert me["areas"] == who["areas"] and me["worker_id"] == who.get("worker_id")
    assert me["department"] == who.get("department")
    # what /me promises a page is what the matrix enforces
    promised = {
        "cases:read": "GET /api/v1/cases",
        "cases:decide": "POST /api/v1/cases/{case_id}/{action}",
        "cases:acknowledge": "POST /api/v1/cases/{case_id}/acknowledge",
        "tasks:step": "POST /api/v1/tasks/{task_id}/{step}",
        "devices:read": "GET /api/v1/devices",
        "people:manage": "GET /api/v1/people",
    }
    for permission, route in promised.items():
        assert (permission in me["permissions"]) == (MATRIX[route]["roles"][role] != "none"), permission
