"""user_strategies: strategies users write in the strategy language, one row per version, and
the version each backtest and sweep of one runs.

Revision ID: 0007_user_strategies
Revises: 0006_exchange_durable
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_user_strategies"
down_revision = "0006_exchange_durable"
branch_labels = None
depends_on = None

_JOB_TABLES = ("backtests", "sweeps")


def upgrade() -> None:
    op.create_table(
        "user_strategies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("owner_id", "name", "version", name="uq_user_strategies_version"),
    )
    op.create_index(
        "ix_user_strategies_owner_id_source_hash", "user_strategies", ["owner_id", "source_hash"]
    )
    for table in _JOB_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("strategy_version_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_strategy_version_id", "user_strategies",
                ["strategy_version_id"], ["id"], ondelete="RESTRICT",
            )


def downgrade() -> None:
    for table in _JOB_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_strategy_version_id", type_="foreignkey")
            batch.drop_column("strategy_version_id")
    op.drop_index("ix_user_strategies_owner_id_source_hash", table_name="user_strategies")
    op.drop_table("user_strategies")
