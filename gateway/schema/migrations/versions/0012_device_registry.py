"""device registry: every edge node, camera and sensor with serial, position, lifecycle and health

- ``devices``: filled from the site files (docs/devices.md), serials from a CSV, installed
  positions from the installer's phone; the gateway keeps status, last seen and health.

Revision ID: 0012_device_registry
Revises: 0011_analytics
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.base import UtcDateTime

revision = "0012_device_registry"
down_revision = "0011_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("serial", sa.String(64), nullable=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("grid_id", sa.String(64), nullable=True),
        sa.Column("installed_lon", sa.Float(), nullable=True),
        sa.Column("installed_lat", sa.Float(), nullable=True),
        sa.Column("installed_grid_id", sa.String(64), nullable=True),
        sa.Column("installer", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("status_since", UtcDateTime(), nullable=False),
        sa.Column("planned_at", UtcDateTime(), nullable=True),
        sa.Column("provisioned_at", UtcDateTime(), nullable=True),
        sa.Column("installed_at", UtcDateTime(), nullable=True),
        sa.Column("commissioned_at", UtcDateTime(), nullable=True),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.Column("last_seen_at", UtcDateTime(), nullable=True),
        sa.Column("check_started_at", UtcDateTime(), nullable=True),
        sa.Column("config_version", sa.String(64), nullable=True),
        sa.Column("software", sa.String(40), nullable=False),
        sa.Column("health", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("serial"),
    )
    op.create_index("ix_devices_node_id", "devices", ["node_id"])
    op.create_index("ix_devices_grid_id", "devices", ["grid_id"])
    op.create_index("ix_devices_status", "devices", ["status"])
    op.create_index("ix_devices_status_since", "devices", ["status", "status_since"])


def downgrade() -> None:
    op.drop_table("devices")
