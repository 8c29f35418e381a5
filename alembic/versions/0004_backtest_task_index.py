"""backtests.task_id indexed: a submission NGINX retried on another API instance finds the job
the first attempt created (its task id derives from the request id).

Revision ID: 0004_backtest_task_index
Revises: 0003_user_write_position
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004_backtest_task_index"
down_revision = "0003_user_write_position"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_backtests_task_id", "backtests", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_backtests_task_id", table_name="backtests")
