"""fleet view: the configuration version the centre pushed last, beside the one the node runs

- ``devices.config_desired``: set by ``gridwatch devices push`` (flows/config_push.py); the
  fleet view shows it against ``config_version`` (what the node's health says it applied).

Revision ID: 0015_fleet_view
Revises: 0014_login_refusals
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_fleet_view"
down_revision = "0014_login_refusals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("config_desired", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("config_desired")
