"""sweep_chunks.research: each evaluated combination's research statistics (the moments and
per-block sums of its per-period returns), from which a sweep's Deflated Sharpe Ratio and
Probability of Backtest Overfitting are computed.

Revision ID: 0008_sweep_chunk_research
Revises: 0007_user_strategies
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sweep_chunk_research"
down_revision = "0007_user_strategies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sweep_chunks") as batch:
        batch.add_column(sa.Column("research", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sweep_chunks") as batch:
        batch.drop_column("research")
