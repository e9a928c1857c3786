"""worker phone: idempotent API receipts, workers' photos as evidence

Revision ID: 0008_worker_phone
Revises: 0007_console
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.base

revision = "0008_worker_phone"
down_revision = "0007_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_receipts",
        sa.Column("caller", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", gateway.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_api_receipts")),
    )
    op.create_index(op.f("ix_api_receipts_created_at"), "api_receipts", ["created_at"], unique=False)
    # Plain ADD COLUMN (SQLite has it): no copy of a table full of JPEGs.
    op.add_column("evidence", sa.Column("task_id", sa.String(length=36), nullable=True))
    op.add_column("evidence", sa.Column("lon", sa.Float(), nullable=True))
    op.add_column("evidence", sa.Column("lat", sa.Float(), nullable=True))
    op.create_index(op.f("ix_evidence_task_id"), "evidence", ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_index(batch.f("ix_evidence_task_id"))
        batch.drop_column("lat")
        batch.drop_column("lon")
        batch.drop_column("task_id")
    op.drop_index(op.f("ix_api_receipts_created_at"), table_name="api_receipts")
    op.drop_table("api_receipts")
