"""The guard in front of every route: who is asking, before a byte of the body is read.

Every API route is a ``GuardedRoute``. Before FastAPI parses anything it
1. finds the caller: ``Authorization: Bearer <access JWT | API token>``, or the
   ``gw_access`` cookie a page got at sign-in — none, or a bad one, is 401;
2. asks for the CSRF header on a cookie-authenticated write (``X-CSRF-Token``,
   the value sign-in gave; a page cannot be made to send it cross-site);
3. refuses a role without the route's permission (403) — still before the body;
4. refuses a body over the size cap (413), then hands the body on.
Area checks of the object a route touches follow in the route (Access.require).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from cloud_api.auth.book import AccessBook
from cloud_api.auth.caller import Caller
from cloud_api.auth.errors import Refusal, error, printable
from cloud_api.auth.permissions import Perm, reaches
from cloud_api.auth.tokens import AccessClaims, AccessTokens, TokenRefused
from gateway.people import service as people

log = logging.getLogger(__name__)

ACCESS_COOKIE = "gw_access"
REFRESH_COOKIE = "gw_refresh"
CSRF_COOKIE = "gw_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/me", "/api/v1/auth/password", "/api/v1/auth/sign-out"})


def permission_of(dependant: Dependant) -> Perm | str | None:
    """The permission a route declared through ``allow(...)`` or ``public``."""
    found = getattr(dependant.call, "permission", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    for sub in dependant.dependencies:
        found = permission_of(sub)
        if found is not None:
            return found
    return None


class StrictJSONRequest(Request):
    """JSON bodies as RFC 8259 has them: no NaN or Infinity, no lone surrogates; and no NUL
    characters, which no text column keeps."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            text = (await self.body()).decode("utf-8", "surrogateescape")
            self._json = json.loads(text, parse_constant=_no_constant)
            _check_strings(self._json, text)
        return self._json


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _check_strings(value: Any, doc: str) -> None:
    for s in _strings(value):
        if "\x00" in s:
            raise json.JSONDecodeError("a string holds a NUL character (\\u0000)", doc, 0)
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise json.JSONDecodeError(
                "a string holds a lone surrogate (not valid Unicode text)", doc, 0
            ) from None


class GuardedRoute(APIRoute):
    # Which size cap its bodies get (Guard.limits): JSON everywhere, photos on upload routes.
    body_limit = "json"

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        permission = permission_of(self.dependant)
        self.permission = permission
        limit = self.body_limit

        async def guarded(request: Request) -> Response:
            app: Any = request.app
            guard: Guard = app.state.guard
            if _has_nul(request):
                # Not text any store keeps (PostgreSQL refuses it outright): one clear answer.
                return error(422, "a NUL character (\\u0000) in the path or query is not allowed")
            try:
                guard.admit(request, permission)
                body = await guard.read_body(request, limit)
            except Refusal as refusal:
                return guard.refused(request, refusal)
            response = await handler(StrictJSONRequest(request.scope, _replay(body)))
            # The site's clock, for pages that count down to deadlines (common/time.js).
            response.headers["X-Server-Time"] = guard.book.clock.now().isoformat()
            return response

        return guarded


def _has_nul(request: Request) -> bool:
    return "\x00" in request.scope.get("path", "") or b"%00" in request.scope.get("query_string", b"")


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class UploadRoute(GuardedRoute):
    """A route that takes a photo as its body: a larger cap (GRIDWATCH_MAX_PHOTO_BYTES)."""

    body_limit = "photo"


class Guard:
    def __init__(
        self,
        book: AccessBook,
        tokens: AccessTokens,
        max_body_bytes: int,
        sessions: Any,
        max_photo_bytes: int | None = None,
    ) -> None:
        self.book = book
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.limits = {"json": max_body_bytes, "photo": max_photo_bytes or max_body_bytes}
        self._sessions = sessions  # write sessions, for the security log
        self._unknown_token_check = 0.0
        self._log_budget = _Budget(per_second=20)

    # -------------------------------------------------------------- who
    def identify(self, request: Request) -> tuple[Caller | None, bool, str]:
        """(caller, came by cookie, csrf value of its session); raises Refusal for a bad credential.
        Keeps what the caller came with on ``request.state.credential`` (see ``still_valid``)."""
        request.state.credential = None
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credential = header.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Refusal(401, "the Authorization header must be 'Bearer <token>'")
            if credential.count(".") != 2:  # not a JWT: an API token (gwt_..., or access.yaml's own)
                return self._api_token(request, credential), False, ""
            caller, csrf = self._access_token(request, credential)
            return caller, False, csrf
        cookie = request.cookies.get(ACCESS_COOKIE)
        if cookie:
            caller, csrf = self._access_token(request, cookie)
            return caller, True, csrf
        return None, False, ""

    def still_valid(self, request: Request) -> bool:
        """Does what the caller came with still hold (not disabled, revoked or signed out)? For
        answers that last, like the live feed: an access token's own expiry does not end them."""
        credential = request.state.credential
        snapshot = self.book.current()
        if isinstance(credential, AccessClaims):
            state = snapshot.people.get(credential.person_id)
            return (
                state is not None
                and state.active
                and state.epoch == credential.epoch
                and credential.session_id not in snapshot.ended_sessions
            )
        return isinstance(credential, str) and credential in snapshot.tokens

    def _api_token(self, request: Request, token: str) -> Caller:
        digest = people.sha256(token)
        caller = self.book.current().tokens.get(digest)
        if caller is None and time.monotonic() - self._unknown_token_check > 1.0:
            # Maybe made a moment ago by another process: look once (at most once a second).
            self._unknown_token_check = time.monotonic()
            caller = self.book.refresh().tokens.get(digest)
        if caller is None:
            raise Refusal(401, "unknown or revoked API token")
        request.state.credential = digest
        return caller

    def _access_token(self, request: Request, token: str) -> tuple[Caller, str]:
        try:
            claims = self.tokens.check(token, self.book.clock.now())
        except TokenRefused as exc:
            raise Refusal(401, str(exc)) from None
        snapshot = self.book.current()
        state = snapshot.people.get(claims.person_id)
        if state is None or not state.active:
            raise Refusal(401, "this account is disabled or unknown")
        if state.epoch != claims.epoch or claims.session_id in snapshot.ended_sessions:
            raise Refusal(401, "this session has ended (signed out, password changed): sign in again")
        request.state.credential = claims
        return state.caller, claims.csrf

    # -------------------------------------------------------------- the checks, in order
    def admit(self, request: Request, permission: Perm | str | None) -> None:
        request.state.caller = None
        try:
            caller, by_cookie, csrf = self.identify(request)
        except Refusal:
            if permission == "public":  # an expired cookie must not stop its own refresh
                return
            raise
        request.state.caller = caller
        if permission == "public":
            return
        if caller is None:
            raise Refusal(
                401,
                "sign in first: 'Authorization: Bearer <token>' or the session cookie (docs/api-access.md)",
            )
        if by_cookie and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), csrf.encode()):
                raise Refusal(
                    403, f"a write with the session cookie needs the {CSRF_HEADER} header from sign-in"
                )
        if caller.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
            raise Refusal(403, "choose your own password first: POST /api/v1/auth/password")
        if isinstance(permission, Perm) and not reaches(caller, permission):
            raise Refusal(403, f"{caller} may not do this ({permission.value})")

    async def read_body(self, request: Request, limit: str = "json") -> bytes:
        if request.method in SAFE_METHODS:
            return b""
        cap = self.limits[limit]
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise Refusal(413, f"the body is larger than {cap} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise Refusal(413, f"the body is larger than {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -------------------------------------------------------------- answers
    def refused(self, request: Request, refusal: Refusal) -> Response:
        caller: Caller | None = getattr(request.state, "caller", None)
        self.log_refusal(request, caller, refusal)
        return error(refusal.status, printable(refusal.detail), refusal.headers)

    def log_refusal(self, request: Request, caller: Caller | None, refusal: Refusal) -> None:
        who = caller.log_name if caller else ""
        route = f"{request.method} {request.url.path}"
        log.warning("refused %s for %s: %s %s", route, who or "anonymous", refusal.status, refusal.detail)
        quiet = refusal.status == 401 and ("sign in first" in refusal.detail or "expired" in refusal.detail)
        if quiet or not self._log_budget.take():
            return  # anonymous page loads and expired tokens are routine, not attempts
        address = request.client.host if request.client else ""
        with self._sessions() as session, session.begin():
            people.record(
                session,
                "refused",
                f"{refusal.status}: {refusal.detail}",
                self.book.clock.now(),
                who,
                address,
                route,
            )


class _Budget:
    """At most ``per_second`` security-log rows a second (a flood is logged, not stored row by row)."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._window = 0
        self._used = 0

    def take(self) -> bool:
        window = int(time.monotonic())
        if window != self._window:
            self._window, self._used = window, 0
        self._used += 1
        return self._used <= self.per_second


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route of an app or router, however deeply included."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI 0.16x keeps an included router whole (a private _IncludedRouter holding
        # .original_router); older ones copy its routes into the app. Both are walked; the test
        # tests/api/test_permission_matrix.py checks every route in the OpenAPI document is found.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def check_routes(app: FastAPI) -> None:
    """Refuse to start with a route that declares no permission (fail closed)."""
    unguarded = [
        f"{sorted(r.methods)} {r.path}"
        for r in api_routes(app.routes)
        if not isinstance(r, GuardedRoute) or r.permission is None
    ]
    if unguarded:
        raise RuntimeError(
            "routes without a declared permission (add allow(Perm...) or public, "
            f"and route_class=GuardedRoute): {', '.join(unguarded)}"
        )
