"""broker_exchange.durable: the transport delivers a broadcast through a non-durable exchange
(kombu's ``celery.pidbox``) to consumer-lifetime queues as a notification, without a row.

Revision ID: 0006_exchange_durable
Revises: 0005_sweep_request_key
Create Date: 2026-11-30

Existing exchanges count as durable until they are declared again (every kombu client declares
the exchanges it publishes to once per connection), so nothing changes before that.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_exchange_durable"
down_revision = "0005_sweep_request_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broker_exchange") as batch:
        batch.add_column(
            sa.Column("durable", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("broker_exchange") as batch:
        batch.drop_column("durable")
