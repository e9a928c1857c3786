"""People and machines that use the API, their sign-in sessions, and the security log.

A person has roles (what they may do) and areas (where: any level of the site's
grid hierarchy). Grid workers' accounts follow ``workers.yaml`` (same id). A
machine (an integration, a demo phone) uses a long random API token kept only
as its SHA-256, with its own role and areas. Every change to these tables bumps
``access_revision`` in the same transaction, so each API process notices within
seconds that someone was disabled or a token revoked (cloud_api.auth.cache).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.people.roles import Role as Role  # re-exported: most of the gateway imports it here
from gateway.store.base import Base, UtcDateTime


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="sign-in name; a worker's id")
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list, doc="area ids of any level")
    worker_id: Mapped[str | None] = mapped_column(String(64), unique=True, doc="workers.yaml id")
    department: Mapped[str | None] = mapped_column(String(64), doc="escalation.yaml department id")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), doc="argon2id; null = cannot sign in")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on disable, password change and "sign out everywhere": tokens carrying an older
    # epoch stop working.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class SignInSession(Base):
    """One signed-in browser or phone: the refresh cookie's hash and the CSRF value."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    refresh_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer, doc="the person's epoch when it was opened")
    address: Mapped[str] = mapped_column(String(64), default="", index=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class ApiToken(Base):
    """A machine's (or a phone's) long random token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="a name: hik-bridge, phone-w-ma-li")
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id"), doc="acts as this person (a worker's phone); null = a machine"
    )
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AccessRevision(Base):
    """One row: a number bumped by every change to people, sessions and tokens."""

    __tablename__ = "access_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class SignInFailure(Base):
    """Failed sign-ins per account and per address, for the slow-down."""

    __tablename__ = "sign_in_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True, doc="account:<id> or address:<ip>")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SecurityEvent(Base):
    """Refused attempts and changes to people and tokens, append-only."""

    __tablename__ = "security_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(
        String(32), index=True, doc="refused, sign_in_failed, person_changed ..."
    )
    actor: Mapped[str] = mapped_column(String(100), default="", doc="who: person:<id>, token:<id>, or ''")
    address: Mapped[str] = mapped_column(String(64), default="")
    route: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
