"""Sign-in, refresh, sign-out, password change, and who am I.

A page signs in with a username and password and gets three cookies: the access
token (``gw_access``, HttpOnly, a few minutes), the refresh token
(``gw_refresh``, HttpOnly, only sent to /api/v1/auth) and the CSRF value
(``gw_csrf``, readable by the page, which sends it back as ``X-CSRF-Token`` on
every write). A phone or a script can use the access token from the answer as
``Authorization: Bearer`` instead. See docs/api-access.md.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, Refusal, allow, public
from cloud_api.auth.caller import Caller
from cloud_api.auth.guard import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, GuardedRoute
from cloud_api.auth.permissions import GRANTS, reaches
from cloud_api.auth.tokens import TokenRefused
from cloud_api.deps import SessionDep
from contracts.envelope import ID_PATTERN
from gateway.people import passwords
from gateway.people import service as people
from gateway.people.models import Person, Role, SignInSession
from gateway.people.queries import sender

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["auth"], route_class=GuardedRoute)
_ID = re.compile(ID_PATTERN)
WRONG = "wrong username or password"


class SignIn(BaseModel):
    model_config = {"extra": "forbid"}

    # No length limits here: an over-long name or password is refused like a wrong one
    # (same answer, no hashing), not as a malformed request.
    username: str = Field(description="The person's id, e.g. op-zhang or w-ma-li.")
    password: str
    phone: bool = Field(
        default=False,
        description="Signing in on a phone that stays signed in (the grid worker's and installer's apps): "
        "the session lasts GRIDWATCH_PHONE_SESSION_TTL_S (90 days) for a worker or installer, "
        "GRIDWATCH_SESSION_TTL_S for anyone else.",
    )


class PasswordChange(BaseModel):
    model_config = {"extra": "forbid"}

    current_password: str
    new_password: str = Field(description=f"{passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters.")


class Me(BaseModel):
    id: str
    kind: str  # person or token
    display_name: str
    roles: list[str]
    areas: list[str]
    everywhere: bool  # covers the whole site
    worker_id: str | None
    department: str | None
    must_change_password: bool
    permissions: dict[str, list[str]]  # permission -> reach: site, area, own, department


class SignedIn(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int  # seconds
    csrf_token: str  # send as X-CSRF-Token on writes made with the cookies
    me: Me


def me_of(caller: Caller) -> Me:
    perms = {p for grants in GRANTS.values() for p in grants} | {Perm.SIGNED_IN}
    return Me(
        id=caller.id,
        kind=caller.kind,
        display_name=caller.display_name,
        roles=sorted(r.value for r in caller.roles),
        areas=list(caller.scope.areas),
        everywhere=caller.scope.everywhere,
        worker_id=caller.worker_id,
        department=caller.department,
        must_change_password=caller.must_change_password,
        permissions={
            p.value: sorted(r.value for r in reach) for p in sorted(perms) if (reach := reaches(caller, p))
        },
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _secure(request: Request) -> bool:
    forced = request.app.state.settings.cookie_secure
    return forced if forced is not None else request.url.scheme == "https"


def _open(
    request: Request,
    response: Response,
    session: Session,
    person: Person,
    row: SignInSession,
    csrf: str,
    refresh: str | None,
) -> SignedIn:
    """Issue an access token for a session; set the cookies."""
    app = request.app.state
    token, _expires = app.tokens.issue(person.id, row.id, row.epoch, csrf, app.ctx.now())
    ttl = app.tokens.ttl_s
    secure = _secure(request)
    response.set_cookie(ACCESS_COOKIE, token, max_age=ttl, httponly=True, samesite="strict", secure=secure)
    session_left = max(1, int((row.expires_at - app.ctx.now()).total_seconds()))
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=session_left, httponly=False, samesite="strict", secure=secure
    )
    if refresh is not None:
        response.set_cookie(
            REFRESH_COOKIE,
            refresh,
            max_age=session_left,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/api/v1/auth",
        )
    app.book.refresh()  # this process knows the session at once
    caller = app.book.current().people[person.id].caller
    return SignedIn(access_token=token, expires_in=ttl, csrf_token=csrf, me=me_of(caller))


@router.post(
    "/auth/sign-in",
    response_model=SignedIn,
    summary="Sign in with username and password (sets the session cookies)",
    dependencies=[Depends(public)],
    responses={
        401: {"description": WRONG},
        429: {"description": "Too many failures: wait Retry-After seconds"},
    },
)
def sign_in(body: SignIn, request: Request, response: Response, session: SessionDep) -> SignedIn:
    app = request.app.state
    now = app.ctx.now()
    address = _address(request)
    name = body.username.strip()
    valid_name = len(name) <= 64 and bool(_ID.match(name))
    account_key = "account:" + (name if valid_name else "~invalid")
    keys = [f"address:{sender(address)}"]  # an IPv6 sender by its /64: it picks the rest at will
    with session.begin():
        person = session.get(Person, name) if valid_name else None
        if person is None or not people.known_address(session, person.id, address):
            keys.append(account_key)  # an address the person never used is slowed down per account too
        wait = people.wait_s(session, keys, now)
        if wait > 0:
            people.record(
                session,
                "sign_in_throttled",
                f"{name[:64]!r}: wait {wait:.0f} s",
                now,
                address=address,
                route="sign-in",
            )
    if wait > 0:
        raise Refusal(
            429,
            f"too many failed sign-ins: try again in {math.ceil(wait)} s",
            {"Retry-After": str(math.ceil(wait))},
        )
    # The slow part (argon2) runs outside any transaction.
    stored = person.password_hash if person is not None else None
    good = len(body.password) <= passwords.MAX_LENGTH and app.passwords.check(stored, body.password)
    if not good or person is None or not person.active:
        why = "unknown account" if person is None else ("wrong password" if not good else "account disabled")
        with session.begin():
            people.failed(session, keys[0], people.ADDRESS_BACKOFF, now)
            if account_key in keys:
                people.failed(session, account_key, people.ACCOUNT_BACKOFF, now)
            people.record(
                session, "sign_in_failed", f"{name[:64]!r}: {why}", now, address=address, route="sign-in"
            )
        log.warning("sign-in refused for %r from %s: %s", name[:64], address, why)
        raise Refusal(401, WRONG)
    with session.begin():
        person = session.get(Person, name)
        assert person is not None
        for key in keys:
            people.succeeded(session, key)
        if person.password_hash and app.passwords.needs_rehash(person.password_hash):
            person.password_hash = app.passwords.hash(body.password)
        opened = people.open_session(
            session,
            person,
            address,
            request.headers.get("user-agent", ""),
            now,
            _session_ttl(app, person, body),
        )
        people.record(session, "signed_in", person.id, now, f"person:{person.id}", address, "sign-in")
        people.bump(session)
    log.info("%s signed in from %s", person.id, address, extra={"person_id": person.id})
    return _open(request, response, session, person, opened.row, opened.csrf, opened.refresh)


PHONE_ROLES = frozenset({Role.WORKER.value, Role.INSTALLER.value})  # people whose work is on a phone


def _session_ttl(app: Any, person: Person, body: SignIn) -> int:
    """A phone that stays signed in for people who work from one (a worker on patrol must not be
    sent to the sign-in page mid-task); the usual lifetime for everyone else, and for desks."""
    if body.phone and PHONE_ROLES & set(person.roles):
        return int(app.settings.phone_session_ttl_s)
    return int(app.settings.session_ttl_s)


def _session_from_cookie(request: Request, session: Session) -> SignInSession:
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh:
        raise Refusal(401, "no session cookie: sign in")
    row = people.find_session(session, refresh, request.app.state.ctx.now())
    if row is None:
        raise Refusal(401, "this session has ended: sign in again")
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), row.csrf.encode()):
        raise Refusal(403, f"send the {CSRF_HEADER} header from sign-in")
    return row


@router.post(
    "/auth/refresh",
    response_model=SignedIn,
    summary="A new access token for the session cookie (needs X-CSRF-Token)",
    dependencies=[Depends(public)],
)
def refresh(request: Request, response: Response, session: SessionDep) -> SignedIn:
    with session.begin():
        row = _session_from_cookie(request, session)
        person = session.get(Person, row.person_id)
        if person is None or not person.active or person.epoch != row.epoch:
            people.end_session(session, row, request.app.state.ctx.now())
            raise Refusal(401, "this session has ended: sign in again")
    return _open(request, response, session, person, row, row.csrf, None)


@router.post(
    "/auth/sign-out",
    status_code=204,
    summary="End this session (the cookie's, or the bearer token's)",
    dependencies=[Depends(public)],
)
def sign_out(request: Request, session: SessionDep) -> Response:
    app = request.app.state
    now = app.ctx.now()
    with session.begin():
        if request.cookies.get(REFRESH_COOKIE):
            row: SignInSession | None = _session_from_cookie(request, session)
        else:
            header = request.headers.get("authorization", "")
            token = header.partition(" ")[2].strip() or request.cookies.get(ACCESS_COOKIE, "")
            try:
                claims = app.tokens.check(token, now)
            except TokenRefused:
                raise Refusal(401, "nothing to sign out of: no session cookie or access token") from None
            row = session.get(SignInSession, claims.session_id)
        if row is not None:
            people.end_session(session, row, now)
            people.record(
                session, "signed_out", row.person_id, now, f"person:{row.person_id}", _address(request)
            )
    app.book.refresh()
    response = Response(status_code=204)
    for name, path in ((ACCESS_COOKIE, "/"), (CSRF_COOKIE, "/"), (REFRESH_COOKIE, "/api/v1/auth")):
        response.delete_cookie(name, path=path)
    return response


@router.post(
    "/auth/password", response_model=SignedIn, summary="Change one's own password (ends one's other sessions)"
)
def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    session: SessionDep,
    access: Annotated[Access, Depends(allow(Perm.SIGNED_IN))],
) -> SignedIn:
    app = request.app.state
    caller = access.caller
    if caller.token_id is not None:
        raise Refusal(403, "an API token has no password; sign in with one")
    with session.begin():
        person = session.get(Person, caller.id)
        stored = person.password_hash if person is not None else None
    if person is None or not app.passwords.check(stored, body.current_password):
        raise Refusal(403, "the current password is wrong")
    why = passwords.problem(body.new_password)
    if why is None and body.new_password == body.current_password:
        why = "the new password is the same as the current one"
    if why is not None:
        raise Refusal(422, why)
    digest = app.passwords.hash(body.new_password)
    token = request.headers.get("authorization", "").partition(" ")[2].strip() or request.cookies.get(
        ACCESS_COOKIE, ""
    )
    current = app.tokens.check(token, app.ctx.now()).session_id
    with session.begin():
        person = session.get(Person, caller.id)
        assert person is not None
        people.set_password(
            session, person, digest, f"person:{person.id}", app.ctx.now(), False, keep_session=current
        )
        row = session.get(SignInSession, current)
    if row is None:
        raise Refusal(401, "this session has ended: sign in again")
    return _open(request, response, session, person, row, row.csrf, None)


@router.get("/me", response_model=Me, summary="Who is signed in: roles, areas, worker id, what they may do")
def me(access: Annotated[Access, Depends(allow(Perm.SIGNED_IN))]) -> Me:
    return me_of(access.caller)
