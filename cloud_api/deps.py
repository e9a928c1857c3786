"""Request-scoped dependencies: a database session and the site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.context import GatewayContext


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_site(request: Request) -> Site:
    return request.app.state.site


def get_ctx(request: Request) -> GatewayContext:
    """Site, grid index and clock, for routes that dispatch (the same code the gateway runs)."""
    return request.app.state.ctx


SessionDep = Annotated[Session, Depends(get_session)]
SiteDep = Annotated[Site, Depends(get_site)]
CtxDep = Annotated[GatewayContext, Depends(get_ctx)]
