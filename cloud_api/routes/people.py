"""People, API tokens and the security log, for admins (also from the CLI: gridwatch users)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import AreasDep, ReadSessionDep, SessionDep, SiteDep
from cloud_api.params import Limit, Offset
from contracts.envelope import Identifier
from gateway.people import passwords
from gateway.people import service as people
from gateway.people.models import ApiToken, Person, Role, SecurityEvent

router = APIRouter(prefix="/api/v1", tags=["people"], route_class=GuardedRoute)
Admin = Annotated[Access, Depends(allow(Perm.MANAGE_PEOPLE))]
AreaId = Annotated[str, Field(max_length=64)]


class PersonView(BaseModel):
    model_config = {"from_attributes": True}

    id: str
    display_name: str
    phone: str
    roles: list[str]
    areas: list[str]
    worker_id: str | None
    department: str | None
    active: bool
    must_change_password: bool
    can_sign_in: bool = False
    updated_at: datetime
    updated_by: str


class PersonChange(BaseModel):
    model_config = {"extra": "forbid"}

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    roles: list[Role] | None = Field(default=None, max_length=5)
    areas: list[AreaId] | None = Field(default=None, max_length=200)
    worker_id: Identifier | None = None
    department: Identifier | None = None
    active: bool | None = None


class NewPerson(PersonChange):
    id: Identifier
    display_name: str = Field(min_length=1, max_length=100)  # type: ignore[assignment]
    roles: list[Role] = Field(min_length=1, max_length=5)  # type: ignore[assignment]


class WithPassword(BaseModel):
    person: PersonView
    one_time_password: str = Field(description="Shown once: hand it over; they choose their own at sign-in.")


class TokenView(BaseModel):
    model_config = {"from_attributes": True}

    id: str
    role: str
    areas: list[str]
    person_id: str | None
    note: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class NewToken(BaseModel):
    model_config = {"extra": "forbid"}

    id: Identifier = Field(description="A name for it: hik-bridge, phone-w-ma-li ...")
    role: Role
    areas: list[AreaId] = Field(default_factory=list, max_length=200)
    person_id: Identifier | None = Field(
        default=None, description="Acts as this person (e.g. a worker's phone)."
    )
    note: str = Field(default="", max_length=200)


class IssuedToken(BaseModel):
    token: TokenView
    secret: str = Field(description="Shown once: the Bearer token. Only its SHA-256 is kept.")


class SecurityEventView(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    at: datetime
    kind: str
    actor: str
    address: str
    route: str
    reason: str


def _view(person: Person) -> PersonView:
    view = PersonView.model_validate(person)
    view.can_sign_in = person.password_hash is not None
    return view


def _spec(person_id: str, change: PersonChange, current: Person | None) -> people.PersonSpec:
    def pick(new: object, old: object) -> object:
        return new if new is not None else old

    return people.PersonSpec(
        id=person_id,
        display_name=str(pick(change.display_name, current.display_name if current else "")),
        roles=tuple(
            change.roles
            if change.roles is not None
            else [Role(r) for r in (current.roles if current else [])]
        ),
        areas=tuple(change.areas if change.areas is not None else (current.areas if current else [])),
        phone=str(pick(change.phone, current.phone if current else "")),
        worker_id=change.worker_id
        if change.worker_id is not None
        else (current.worker_id if current else None),
        department=change.department
        if change.department is not None
        else (current.department if current else None),
    )


def _person(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise HTTPException(404, f"no person {person_id!r}")
    return person


def _refresh(request: Request) -> None:
    request.app.state.book.refresh()  # this process applies the change at once


@router.get("/people", response_model=list[PersonView], summary="Everyone who may sign in")
def list_people(session: ReadSessionDep, _access: Admin) -> list[PersonView]:
    return [_view(p) for p in session.scalars(select(Person).order_by(Person.id))]


@router.post(
    "/people", response_model=WithPassword, status_code=201, summary="Add a person (one-time password)"
)
def add_person(
    body: NewPerson, request: Request, session: SessionDep, site: SiteDep, areas: AreasDep, access: Admin
) -> WithPassword:
    spec = _spec(body.id, body, None)
    otp = passwords.one_time_password()
    digest = request.app.state.passwords.hash(otp)
    try:
        people.check_spec(spec, site, areas)
        with session.begin():
            person = people.add_person(
                session, spec, access.caller.log_name, request.app.state.ctx.now(), digest
            )
    except people.PeopleError as exc:
        raise HTTPException(409 if "already" in str(exc) else 422, str(exc)) from None
    _refresh(request)
    return WithPassword(person=_view(person), one_time_password=otp)


@router.patch(
    "/people/{person_id}", response_model=PersonView, summary="Change a person: roles, areas, active ..."
)
def change_person(
    person_id: str,
    body: PersonChange,
    request: Request,
    session: SessionDep,
    site: SiteDep,
    areas: AreasDep,
    access: Admin,
) -> PersonView:
    now, by = request.app.state.ctx.now(), access.caller.log_name
    try:
        with session.begin():
            person = _person(session, person_id)
            spec = _spec(person_id, body, person)
            people.check_spec(spec, site, areas)
            if body.active is False or (body.roles is not None and Role.ADMIN not in body.roles):
                _keep_an_admin(session, person)
            people.change_person(session, person, spec, by, now)
            if body.active is not None:
                people.set_active(session, person, body.active, by, now)
    except people.PeopleError as exc:
        raise HTTPException(422, str(exc)) from None
    _refresh(request)
    return _view(person)


def _keep_an_admin(session: Session, person: Person) -> None:
    if Role.ADMIN.value not in person.roles or not person.active:
        return
    others = [p for p in session.scalars(select(Person).where(Person.active.is_(True))) if p.id != person.id]
    if not any(Role.ADMIN.value in p.roles for p in others):
        raise people.PeopleError(f"{person.id} is the last active admin: make another admin first")


@router.post(
    "/people/{person_id}/reset-password",
    response_model=WithPassword,
    summary="A new one-time password (ends the person's sessions)",
)
def reset_password(person_id: str, request: Request, session: SessionDep, access: Admin) -> WithPassword:
    otp = passwords.one_time_password()
    digest = request.app.state.passwords.hash(otp)
    with session.begin():
        person = _person(session, person_id)
        people.set_password(
            session, person, digest, access.caller.log_name, request.app.state.ctx.now(), True
        )
    _refresh(request)
    return WithPassword(person=_view(person), one_time_password=otp)


@router.get("/tokens", response_model=list[TokenView], summary="API tokens (machines, phones)")
def list_tokens(session: ReadSessionDep, _access: Admin) -> list[TokenView]:
    return [TokenView.model_validate(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


@router.post("/tokens", response_model=IssuedToken, status_code=201, summary="Make an API token (shown once)")
def add_token(
    body: NewToken, request: Request, session: SessionDep, areas: AreasDep, access: Admin
) -> IssuedToken:
    for area in body.areas:
        if (why := areas.problem(area)) is not None:
            raise HTTPException(422, why)
    if body.person_id is None and body.role is not Role.ADMIN and not body.areas:
        raise HTTPException(422, "a machine token needs areas (or a person_id to act as)")
    try:
        with session.begin():
            secret = people.add_token(
                session,
                body.id,
                body.role,
                body.areas,
                access.caller.log_name,
                request.app.state.ctx.now(),
                body.person_id,
                body.note,
            )
            token = session.get(ApiToken, body.id)
    except people.PeopleError as exc:
        raise HTTPException(409 if "already" in str(exc) else 422, str(exc)) from None
    assert secret is not None and token is not None
    _refresh(request)
    return IssuedToken(token=TokenView.model_validate(token), secret=secret)


@router.delete("/tokens/{token_id}", response_model=TokenView, summary="Revoke an API token")
def revoke_token(token_id: str, request: Request, session: SessionDep, access: Admin) -> TokenView:
    try:
        with session.begin():
            token = people.revoke_token(
                session, token_id, access.caller.log_name, request.app.state.ctx.now()
            )
    except people.PeopleError as exc:
        raise HTTPException(404, str(exc)) from None
    _refresh(request)
    return TokenView.model_validate(token)


@router.get(
    "/security-log",
    response_model=list[SecurityEventView],
    summary="Refusals and changes to access, newest first",
)
def security_log(
    session: ReadSessionDep,
    _access: Admin,
    kind: str | None = Query(default=None, max_length=32),
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SecurityEventView]:
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc())
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    return [SecurityEventView.model_validate(e) for e in session.scalars(query.limit(limit).offset(offset))]
