"""login refusals: the logins the broker refused, read from its own log ($SYS/broker/log/N)

- ``login_refusals``: one row per refused CONNECT (several gateways watching the log write it
  once, by the broker's stamp and the connection's address); the commissioning check reads it to
  tell "credentials refused" from "never connected" (docs/devices.md).

Revision ID: 0014_login_refusals
Revises: 0013_intake
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.base import UtcDateTime

revision = "0014_login_refusals"
down_revision = "0013_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_refusals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("refused_at", UtcDateTime(), nullable=False),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("listener", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(128), nullable=True),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.UniqueConstraint("key", name="uq_login_refusals_key"),
    )
    op.create_index("ix_login_refusals_refused_at", "login_refusals", ["refused_at"])
    op.create_index("ix_login_refusals_login", "login_refusals", ["login"])


def downgrade() -> None:
    op.drop_table("login_refusals")
