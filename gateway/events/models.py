"""The ingest ledger: every accepted message id once, and every rejected payload."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class EventRecord(Base):
    """One accepted message that changes state (hazard event, task update).

    The primary key is (source, envelope id), so a redelivered or replayed message
    cannot be applied twice: the insert finds it and the batch skips it. Ids are
    unique per source, not globally: a source that publishes another source's id
    first cannot make the genuine message look like a redelivery.
    """

    __tablename__ = "events"

    # No index of its own: the primary key (source, id) already leads with it.
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    topic: Mapped[str] = mapped_column(String(256))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    hazard_type: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16))
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[str] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(64), doc="Id of the gateway that applied it.")
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(
        String(16), default="applied", server_default="applied", doc="applied or refused (kept, not applied)"
    )


class DeadLetter(Base):
    """A payload that failed the contract, kept for an operator to read and replay."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replay_result: Mapped[str | None] = mapped_column(String(200))
    replayed_by: Mapped[str | None] = mapped_column(String(100), doc="operator:<id> who replayed it.")
    replay_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SourceProgress(Base):
    """Per-source sequence bookkeeping: how far each source got and what is missing.

    ``open_gaps`` holds ``[first, last, noticed_at]`` ranges of sequence numbers
    not seen yet. A range is only counted as lost after a grace period, because
    shared subscriptions may deliver a source's messages out of order.
    """

    __tablename__ = "source_progress"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_seq: Mapped[int] = mapped_column(BigInteger, doc="-1 until the first sequenced message")
    max_seq_ts: Mapped[datetime | None] = mapped_column(
        UtcDateTime, doc="Source timestamp of the message with max_seq (tells a restart from a replay)."
    )
    open_gaps: Mapped[list[list]] = mapped_column(JSON, default=list)
    open_gap_count: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    lost_total: Mapped[int] = mapped_column(BigInteger, default=0)
    late_total: Mapped[int] = mapped_column(BigInteger, default=0)
    resets_total: Mapped[int] = mapped_column(Integer, default=0)
    messages_total: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the receipts say: every number from base_seq to max_seq is committed except the
    # open and the lost ranges. base_seq is the first contact, a restarted counter, or just
    # past a lost range no longer remembered.
    base_seq: Mapped[int | None] = mapped_column(BigInteger)
    lost_gaps: Mapped[list[list] | None] = mapped_column(
        JSON, doc="Recently lost [first, last, where] ranges: a late arrival is counted as recovered."
    )
    recovered_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lost_at_source_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lost_at_broker_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What the source last said it sent (an edge node's health): for tail loss and for where.
    declared_seq: Mapped[int | None] = mapped_column(BigInteger)
    declared_dropped: Mapped[list[list] | None] = mapped_column(
        JSON, doc="[first, last] ranges the source says it dropped itself (its outbox was full)."
    )
    declared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiReceipt(Base):
    """The answer to a write sent with an ``Idempotency-Key`` (a phone's step made offline).

    Written in the same transaction as the change it answers, so a retry of the same request
    (same caller, same key) gets this answer back and changes nothing: exactly once over HTTP,
    as the ledger above is for MQTT. ``fingerprint`` tells a retry from a different request
    that reused the key.
    """

    __tablename__ = "api_receipts"

    caller: Mapped[str] = mapped_column(String(100), primary_key=True, doc="person:<id> or token:<name>")
    key: Mapped[str] = mapped_column(String(64), primary_key=True, doc="the Idempotency-Key the client made")
    route: Mapped[str] = mapped_column(String(300), doc="method and path, for people reading the table")
    fingerprint: Mapped[str] = mapped_column(String(64), doc="SHA-256 of method, path and body")
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
