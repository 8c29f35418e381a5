"""sweeps.request_key: a sweep submission NGINX retried on another API instance finds the sweep
the first attempt created (the key derives from the request id, as a backtest's task id does).

Revision ID: 0005_sweep_request_key
Revises: 0004_backtest_task_index
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sweep_request_key"
down_revision = "0004_backtest_task_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.add_column(sa.Column("request_key", sa.String(64), nullable=True))
    op.create_index("ix_sweeps_request_key", "sweeps", ["request_key"])


def downgrade() -> None:
    op.drop_index("ix_sweeps_request_key", table_name="sweeps")
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("request_key")
