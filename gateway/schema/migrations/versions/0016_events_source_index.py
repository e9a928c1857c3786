"""events: drop ix_events_source, which the primary key (source, id) already covers

Every ledger row was written into one more B-tree than any query needs: a lookup by source
alone uses the primary key's leading column. SQLite spent ~1/6 of the ingest batch on the
ledger INSERT's index work (docs/benchmarks.md, issue 19).

Revision ID: 0016_events_source_index
Revises: 0015_fleet_view
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0016_events_source_index"
down_revision = "0015_fleet_view"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_source", table_name="events")  # no table rebuild on SQLite


def downgrade() -> None:
    op.create_index("ix_events_source", "events", ["source"], unique=False)
