"""Pumps: the board's unique id (devices.board_uid), which an uploaded log must name once it
is known (ingest.check_pump).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("board_uid", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("devices") as t:
        t.drop_column("board_uid")
