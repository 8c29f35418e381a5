"""The broker's tables: exchanges, queues, bindings and messages (qgpg).

Revision ID: 0002_broker
Revises: 0001_jobs
Create Date: 2026-11-25

On PostgreSQL this also creates the NOTIFY triggers the ``qgpg`` transport wakes consumers with.
On SQLite the tables are created without them: the embedded default broker is kombu's stock
``sqla+sqlite`` transport, which keeps its own ``kombu_*`` tables and never reads these, but
creating them keeps ``alembic check`` free of drift on both dialects.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qgpg.schema import DROP_NOTIFY_SQL, NOTIFY_FUNCTION_SQL, NOTIFY_TRIGGERS_SQL

revision = "0002_broker"
down_revision = "0001_jobs"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broker_exchange",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_broker_exchange"),
    )
    op.create_table(
        "broker_queue",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("expires_ms", sa.Integer(), nullable=True),
        sa.Column("message_ttl_ms", sa.Integer(), nullable=True),
        sa.Column("auto_delete", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name="pk_broker_queue"),
    )
    op.create_table(
        "broker_binding",
        sa.Column("exchange", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["queue"],
            ["broker_queue.name"],
            name="fk_broker_binding_queue_broker_queue",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exchange", "routing_key", "queue", name="pk_broker_binding"),
    )
    op.create_index("ix_broker_binding_queue", "broker_binding", ["queue"])
    op.create_table(
        "broker_message",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), server_default=sa.text("9"), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broker_message"),
    )
    op.create_index(
        "ix_broker_message_ready",
        "broker_message",
        ["queue", "rank", "id"],
        postgresql_where=sa.text("leased_until IS NULL"),
    )
    op.create_index(
        "ix_broker_message_leased_until",
        "broker_message",
        ["leased_until"],
        postgresql_where=sa.text("leased_until IS NOT NULL"),
    )
    op.create_index(
        "ix_broker_message_expires_at",
        "broker_message",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # A queue table churns: vacuum it after a fixed number of dead rows, not a fraction.
        op.execute(
            "ALTER TABLE broker_message SET (autovacuum_vacuum_scale_factor = 0,"
            " autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0,"
            " autovacuum_analyze_threshold = 5000)"
        )
        op.execute(NOTIFY_FUNCTION_SQL)
        for statement in NOTIFY_TRIGGERS_SQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP_NOTIFY_SQL:
            op.execute(statement)
    op.drop_index("ix_broker_message_expires_at", table_name="broker_message")
    op.drop_index("ix_broker_message_leased_until", table_name="broker_message")
    op.drop_index("ix_broker_message_ready", table_name="broker_message")
    op.drop_table("broker_message")
    op.drop_index("ix_broker_binding_queue", table_name="broker_binding")
    op.drop_table("broker_binding")
    op.drop_table("broker_queue")
    op.drop_table("broker_exchange")
