"""console: merged cases, false-alarm reason codes, one escalation per tier and contact

Revision ID: 0007_console
Revises: 0006_people
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_console"
down_revision = "0006_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))
    with op.batch_alter_table("false_alarm_feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=32), nullable=True))
    # An operator's whistle may tell several departments of one case (each once).
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_escalations_case_tier", type_="unique")
        batch_op.create_unique_constraint("uq_escalations_case_tier_target", ["case_id", "tier", "target"])


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_escalations_case_tier_target", type_="unique")
        batch_op.create_unique_constraint("uq_escalations_case_tier", ["case_id", "tier"])
    with op.batch_alter_table("false_alarm_feedback", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("merged_into")
