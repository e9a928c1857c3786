"""intake: residents' reports (群众吹哨) and broadcasts (协查通报)

- ``resident_reports``: a report from the public page, beside the case it opened or joined; the
  sender's address only as a hash (the per-address limit), the phone for the centre only;
- ``broadcasts``, ``broadcast_recipients`` (read receipts), ``broadcast_photos``,
  ``broadcast_sightings`` (a worker's answer, the case it opened).

Revision ID: 0013_intake
Revises: 0012_device_registry
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.base import UtcDateTime

revision = "0013_intake"
down_revision = "0012_device_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resident_reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("hazard_type", sa.String(32), nullable=False),
        sa.Column("grid_id", sa.String(64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("picked_on_map", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("photo_id", sa.String(64), nullable=True),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("pow_bits", sa.Integer(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_resident_reports_case_id", "resident_reports", ["case_id"])
    op.create_index("ix_resident_reports_address_hash", "resident_reports", ["address_hash"])
    op.create_index("ix_resident_reports_received_at", "resident_reports", ["received_at"])

    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("grids", sa.JSON(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(100), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(100), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=False),
    )
    op.create_index("ix_broadcasts_created_at", "broadcasts", ["created_at"])
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("broadcast_id", sa.String(36), sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("grid_id", sa.String(64), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("broadcast_id", "worker_id", name="uq_broadcast_recipient"),
    )
    op.create_index("ix_broadcast_recipients_broadcast_id", "broadcast_recipients", ["broadcast_id"])
    op.create_index("ix_broadcast_recipients_worker_id", "broadcast_recipients", ["worker_id"])
    op.create_table(
        "broadcast_photos",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("broadcast_id", sa.String(36), nullable=True),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_broadcast_photos_broadcast_id", "broadcast_photos", ["broadcast_id"])
    op.create_table(
        "broadcast_sightings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("broadcast_id", sa.String(36), sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_broadcast_sightings_broadcast_id", "broadcast_sightings", ["broadcast_id"])
    op.create_index("ix_broadcast_sightings_case_id", "broadcast_sightings", ["case_id"])


def downgrade() -> None:
    for table in ("broadcast_sightings", "broadcast_photos", "broadcast_recipients", "broadcasts"):
        op.drop_table(table)
    op.drop_table("resident_reports")
