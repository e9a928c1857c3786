"""delivery receipts and honest gap accounting: where a source's record starts, lost ranges, what it declared

Revision ID: 0010_delivery_receipts
Revises: 0009_events_per_source
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.base

revision = "0010_delivery_receipts"
down_revision = "0009_events_per_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lost_gaps", sa.JSON(), nullable=True))
        for name in ("recovered_total", "lost_at_source_total", "lost_at_broker_total"):
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("declared_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("declared_dropped", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("declared_at", gateway.store.base.UtcDateTime(timezone=True), nullable=True)
        )
    # What was committed before the upgrade is not known number by number: receipts start after it.
    op.execute("UPDATE source_progress SET base_seq = max_seq + 1 WHERE max_seq >= 0")


def downgrade() -> None:
    with op.batch_alter_table("source_progress", schema=None) as batch_op:
        for name in (
            "declared_at",
            "declared_dropped",
            "declared_seq",
            "lost_at_broker_total",
            "lost_at_source_total",
            "recovered_total",
            "lost_gaps",
            "base_seq",
        ):
            batch_op.drop_column(name)
