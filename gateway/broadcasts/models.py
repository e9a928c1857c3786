"""A broadcast, its photos, one receipt row per worker it went to, and the sightings it brought."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime
from gateway.store.change_log import ChangeFeed


class Broadcast(Base):
    __tablename__ = "broadcasts"
    # New broadcasts and their closing reach the phones and the console live.
    __change_feed__ = ChangeFeed(entity="broadcast", watch=("closed_at",))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)  # area ids as chosen (any level)
    grids: Mapped[list[str]] = mapped_column(JSON, default=list)  # the grids they cover
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    sender: Mapped[str] = mapped_column(String(100))  # operator:<id> / department:<id>
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    close_note: Mapped[str] = mapped_column(Text, default="")


class BroadcastRecipient(Base):
    """One worker a broadcast went to, and when they read it (the sender sees each receipt)."""

    __tablename__ = "broadcast_recipients"
    __change_feed__ = ChangeFeed(entity="bc_receipt", watch=("read_at",))
    __table_args__ = (UniqueConstraint("broadcast_id", "worker_id", name="uq_broadcast_recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[str] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_id: Mapped[str] = mapped_column(String(64))
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BroadcastPhoto(Base):
    __tablename__ = "broadcast_photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    broadcast_id: Mapped[str | None] = mapped_column(String(36), index=True)  # None: sent before its notice
    uploaded_by: Mapped[str] = mapped_column(String(100))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Sighting(Base):
    """A worker's answer to a broadcast: seen here (photo, position, note); it opened a case."""

    __tablename__ = "broadcast_sightings"
    __change_feed__ = ChangeFeed(entity="sighting", case_id="case_id")

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # made on the phone
    broadcast_id: Mapped[str] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
