"""events: message ids are unique per source (primary key source, id)

A source that published another source's message id first made the genuine message be
skipped as a redelivery; the ledger now keys every message by who sent it.

Revision ID: 0009_events_per_source
Revises: 0008_worker_phone
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009_events_per_source"
down_revision = "0008_worker_phone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("pk_events", type_="primary")
        batch_op.create_primary_key("pk_events", ["source", "id"])


def downgrade() -> None:
    # Only possible while no id is shared by two sources (the old key cannot hold both).
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("pk_events", type_="primary")
        batch_op.create_primary_key("pk_events", ["id"])
