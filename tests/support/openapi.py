"""The committed OpenAPI document and what the API tests know about its routes."""

from __future__ import annotations

from tests.support.paths import REPO

COMMITTED = REPO / "docs" / "openapi.json"


ENDLESS = {"/api/v1/live"}  # Server-Sent Events: tested in tests/web/test_live_feed.py


def role_for(path: str) -> str | None:
    """Whose request reaches furthest into the route (past authorization, into the code)."""
    if path.startswith(("/api/v1/people", "/api/v1/tokens", "/api/v1/security-log")):
        return "admin"
    if path.endswith(("/{step}", "/patrol/check-in")):
        return "worker"
    if path.endswith("/acknowledge"):
        return "department"
    if path.startswith("/api/v1/auth/sign-out"):
        return None  # a generated sign-out must not end the run's own session
    return "operator"
