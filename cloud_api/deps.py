"""Request-scoped dependencies: a database session and the site.

GET routes take ``ReadSessionDep``: on SQLite a deferred, query-only transaction,
so an operator's slow read never holds the write lock the gateway's ingest needs.
Routes that change something take ``SessionDep`` (``BEGIN IMMEDIATE`` on SQLite).
``tests/web/test_read_sessions.py`` checks every GET route takes the read session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.context import GatewayContext
from gateway.people.areas import SiteAreas


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    with request.app.state.read_sessions() as session:
        yield session


def get_site(request: Request) -> Site:
    return request.app.state.site


def get_ctx(request: Request) -> GatewayContext:
    """Site, grid index and clock, for routes that dispatch (the same code the gateway runs)."""
    return request.app.state.ctx


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
SiteDep = Annotated[Site, Depends(get_site)]
CtxDep = Annotated[GatewayContext, Depends(get_ctx)]


def get_areas(request: Request) -> SiteAreas:
    """The site's hierarchy and where workers, devices and nodes are (for area checks)."""
    return request.app.state.areas


AreasDep = Annotated[SiteAreas, Depends(get_areas)]
