"""Refusals (401, 403, 429 ...) and the one error body every answer uses.

Every error is ``{"detail": "<one sentence>"}``; a body that fails validation
adds ``"errors": [{"loc": [...], "msg": ..., "type": ...}]`` (without echoing the
input, which may be huge or not even printable).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.store.errors import is_store_down, is_transient

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gridwatch"'}


class Refusal(Exception):
    """Refused for who is asking; logged on the security log by the handler."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or (CHALLENGE if status == 401 else {}))


def error(status: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=dict(headers or {}))


def printable(value: object) -> str:
    """Text safe to put in a JSON answer: lone surrogates escaped."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _loc(part: object) -> str | int:
    if isinstance(part, int):
        return part
    if isinstance(part, float) and not math.isfinite(part):
        return str(part)
    return printable(part)


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message; for a body that is not JSON, why (FastAPI keeps it in ctx)."""
    ctx = error.get("ctx") or {}
    if error.get("type") == "json_invalid" and ctx.get("error"):
        return f"not valid JSON: {ctx['error']}"
    return str(error.get("msg", ""))


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [_loc(p) for p in e.get("loc", ())] if e.get("type") != "json_invalid" else ["body"],
            "msg": printable(_message(e)),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    summary = f"{where}: {first['msg']}" if where else str(first["msg"])
    if len(errors) > 1:
        summary += f" (and {len(errors) - 1} more)"
    return error(422, summary, errors=errors)


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # A 409 may carry facts besides its sentence (cloud_api.idempotency.Conflict: how far ...).
    facts = getattr(exc, "facts", {})
    return error(exc.status_code, printable(exc.detail), getattr(exc, "headers", None), **facts)


STORE_RETRY_S = 5  # what a 503 for an unavailable store asks the caller to wait (phones retry 5xx)


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, unreachable or busy past its timeout: a 503 the caller can act on
    (the one error body, ``Retry-After``), not a bare 500. Any other database error is a bug and
    stays a 500 (re-raised to the server's handler, which logs its traceback)."""
    assert isinstance(exc, DBAPIError)
    if not (is_store_down(exc) or is_transient(exc) or exc.connection_invalidated):
        raise exc
    log.warning(
        "store unavailable for %s %s: %s",
        request.method,
        request.url.path,
        str(exc.orig).splitlines()[0][:200],
    )
    return error(
        503,
        "the database cannot be reached or is busy; try again in a few seconds",
        {"Retry-After": str(STORE_RETRY_S)},
    )
