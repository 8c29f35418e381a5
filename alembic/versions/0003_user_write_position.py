"""users.last_write_lsn: read-your-writes for API clients that keep no session cookie.

Revision ID: 0003_user_write_position
Revises: 0002_broker
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_user_write_position"
down_revision = "0002_broker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("last_write_lsn", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_write_lsn")
