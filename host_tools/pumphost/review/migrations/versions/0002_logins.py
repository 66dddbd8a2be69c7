"""Logins: failed logins and locks per user name and per address (login_throttle), sessions
kept on the server (sessions), and audit rows of logins for user names that do not exist
(audit.user_id may be empty).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("last_failure", sa.Float, nullable=False),
        sa.Column("lockouts", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.Float),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )
    with op.batch_alter_table("audit") as b:  # SQLite: the table is copied
        b.alter_column("user_id", existing_type=sa.Integer, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM audit WHERE user_id IS NULL")
    with op.batch_alter_table("audit") as b:
        b.alter_column("user_id", existing_type=sa.Integer, nullable=False)
    op.drop_table("sessions")
    op.drop_table("login_throttle")
