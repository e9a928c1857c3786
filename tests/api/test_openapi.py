"""docs/openapi.json is generated from the routes and must be current; /docs and /redoc work
without a CDN; a bounded schemathesis run against the committed document finds no server error."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import httpx
import hypothesis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given

from cloud_api.app import openapi_document
from tests.support.openapi import COMMITTED, ENDLESS, role_for
from tests.support.world import World

# Every operation gets this many generated requests, valid and invalid (schemathesis decides
# the mix): bounded so the suite stays fast, wide enough to have found the 31 server errors of
# issue 11 (NaN bodies, naive and out-of-range dates, integers past 2^63, lone surrogates).
EXAMPLES_PER_OPERATION = 25


def test_committed_openapi_document_is_fresh() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document(), (
        "run `gridwatch contracts export docs` and commit docs/openapi.json"
    )


def test_openapi_document_describes_sign_in_and_security() -> None:
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.")
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}
    assert doc["paths"]["/api/v1/auth/sign-in"]["post"]["security"] == []  # public
    assert "security" not in doc["paths"]["/api/v1/cases"]["get"]  # the global one applies
    assert doc["paths"]["/api/v1/me"]["get"]


def test_docs_pages_use_only_assets_served_by_the_api(world: World) -> None:
    client = world.client
    headers = world.headers["operator"]
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page, headers=headers).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html) + re.findall(r"url: ?'([^']+)'", html)
        assert urls and all(u.startswith("/") for u in urls), (page, urls)  # nothing from a CDN
        assert f"/ui/docs-assets/{script}" in urls
        for url in urls:
            assert client.get(url, headers=headers).status_code == 200, url
    assert client.get("/docs").status_code == 401  # the API's description is for signed-in people


# ---------------------------------------------------------------- schemathesis
SCHEMA = schemathesis.openapi.from_path(COMMITTED)


def _operations() -> list[Any]:
    return [result.ok() for result in SCHEMA.get_all_operations() if result.ok().path not in ENDLESS]


def _request(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The generated request as httpx's arguments (its own session and headers win)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    sent: dict[str, Any] = {"headers": kwargs["headers"], "params": kwargs.get("params")}
    cookies = kwargs.get("cookies")
    if cookies and "Authorization" not in headers:  # as a browser sends them
        sent["headers"] = {**sent["headers"], "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if "json" in kwargs:
        sent["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), (bytes, str)):
        sent["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        sent["data"] = kwargs["data"]
    return {"method": kwargs["method"], "url": kwargs["url"], **sent}


def _send_all(client: TestClient, requests: list[dict[str, Any]]) -> list[int]:
    """Each request to the client's app, in turn, from one coroutine on the app's own event loop
    (the TestClient's portal): the same app, lifespan, headers, cookies and client address as
    ``client.request``, without its ~8 hand-overs between threads per request."""

    async def send() -> list[int]:
        transport = httpx.ASGITransport(app=client.app, client=("testclient", 50000))  # TestClient's
        async with httpx.AsyncClient(
            transport=transport, base_url=client.base_url, headers=client.headers, cookies=client.cookies
        ) as session:
            return [(await session.request(**request)).status_code for request in requests]

    assert client.portal is not None, "the TestClient must be entered (its lifespan running)"
    return client.portal.call(send)


def test_generated_requests_never_get_a_server_error(world: World) -> None:
    """Every operation of the committed document, valid and invalid requests (schemathesis's
    positive and negative generation), in one world."""
    cases = _generated_requests()
    requests = []
    for case in cases:
        role = role_for(case.operation.path)
        requests.append(_request(case, world.headers[role] if role else {}))
    failures = [
        f"{status} {case.method} {case.formatted_path} {case.query} {case.body!r}"[:500]
        for case, status in zip(cases, _send_all(world.client, requests), strict=True)
        if status >= 500
    ]
    assert failures == []


# Generated once and sent to both stores' worlds: derandomised, so each store got the same
# requests anyway, and generating them was most of the test's CPU.
@functools.cache
def _generated_requests() -> tuple[Any, ...]:
    cases: list[Any] = []
    for operation in _operations():
        strategy = operation.as_strategy() | operation.as_strategy(
            generation_mode=schemathesis.GenerationMode.NEGATIVE
        )

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def draw(case: Any) -> None:
            cases.append(case)

        draw()
    return tuple(cases)
