"""A resident's report: kept beside the case it opened or joined, with what the centre may need
(an optional phone number) and what the public status link may show (nothing personal)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class ResidentReport(Base):
    __tablename__ = "resident_reports"

    # Made on the resident's phone (a UUID): the report's id, its event id in the ingest ledger and
    # the key of its status link (122 random bits: not guessed).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    hazard_type: Mapped[str] = mapped_column(String(32))
    grid_id: Mapped[str | None] = mapped_column(String(64))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    picked_on_map: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(32), default="")  # for the centre only: never on the link
    photo_id: Mapped[str | None] = mapped_column(String(64))
    # HMAC (a server secret) of the site and the sender's address (IPv6: its /64): the per-address
    # limit counts these without keeping the address, nor anything that gives it back.
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    pow_bits: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
