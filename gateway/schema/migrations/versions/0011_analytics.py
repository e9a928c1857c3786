"""analytics: reports kept (weekly report), tasks sent back, indexes for period figures

- ``reports``: the weekly report (HTML, PDF, headline figures), its share link;
- ``tasks.sent_back_at``: the centre sent the result back for rework (返工) — the assessment's
  verified-resolutions measure needs it;
- ``notification_deliveries.case_id`` may be empty: a report's link is sent like a case notice;
- indexes on ``tasks.offered_at`` and ``patrol_plans.day``: figures over a month read a
  period of tasks and patrol days, not the whole history.

Revision ID: 0011_analytics
Revises: 0010_delivery_receipts
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.base import UtcDateTime

revision = "0011_analytics"
down_revision = "0010_delivery_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(160), nullable=True),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("period_start", UtcDateTime(), nullable=False),
        sa.Column("period_end", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("share_token", sa.String(64), nullable=True),
        sa.Column("share_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.UniqueConstraint("key", name="uq_reports_key"),
        sa.UniqueConstraint("share_token", name="uq_reports_share_token"),
    )
    op.create_index("ix_reports_area_created", "reports", ["area", "created_at"])
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_back_at", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_tasks_offered_at", ["offered_at"])
    op.create_index("ix_patrol_plans_day", "patrol_plans", ["day"])
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.String(36), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM notification_deliveries WHERE case_id IS NULL")
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.String(36), nullable=False)
    op.drop_index("ix_patrol_plans_day", table_name="patrol_plans")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_offered_at")
        batch_op.drop_column("sent_back_at")
    op.drop_index("ix_reports_area_created", table_name="reports")
    op.drop_table("reports")
