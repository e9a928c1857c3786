"""Evidence: snapshots (JPEG) from edge nodes and photos taken by grid workers on their phones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class Evidence(Base):
    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # evidence_id from the edge or the phone
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    # A worker's photo: device_id and source are the worker's id; the task it was taken for
    # (none for a 随手拍 report, whose event_id is the report) and where (EXIF GPS or the phone).
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
