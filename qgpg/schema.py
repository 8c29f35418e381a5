"""Tables of the PostgreSQL broker; created by an Alembic migration, never at import time.

``broker_message.rank`` is ``MAX_PRIORITY - priority`` so that the most urgent message sorts
first in an ascending index: the dequeue is ``ORDER BY rank, id`` over the partial index
``ix_broker_message_ready`` (only unleased rows), an index scan however long the table gets.
The NOTIFY trigger is PostgreSQL-only and lives in the migration (``NOTIFY_FUNCTION_SQL``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)

# Alembic's recommended constraint names (an application sharing the database may reuse them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

MAX_PRIORITY = 9

# SQLite only autoincrements an INTEGER PRIMARY KEY, not a BIGINT one.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

exchanges = Table(
    "broker_exchange",
    metadata,
    Column("name", Text, primary_key=True),
    Column("type", Text, nullable=False),
    # As declared (kombu's ``durable``). Broadcasts through a non-durable fanout or topic
    # exchange, like kombu's ``celery.pidbox``, need not be rows (see docs/broker.md).
    Column("durable", Boolean, nullable=False, server_default=text("true")),
)

queues = Table(
    "broker_queue",
    metadata,
    Column("name", Text, primary_key=True),
    # A queue with ``expires_ms`` is deleted (with its messages and bindings) once no consumer
    # has refreshed ``last_seen`` for that long: pidbox reply queues, event receivers' queues.
    Column("expires_ms", Integer, nullable=True),
    Column("message_ttl_ms", Integer, nullable=True),
    Column("auto_delete", Boolean, nullable=False, server_default=text("false")),
    Column("last_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

bindings = Table(
    "broker_binding",
    metadata,
    Column("exchange", Text, nullable=False),
    Column("routing_key", Text, nullable=False),
    Column(
        "queue", Text, ForeignKey("broker_queue.name", ondelete="CASCADE"), nullable=False
    ),
    Column("pattern", Text, nullable=True),
    PrimaryKeyConstraint("exchange", "routing_key", "queue", name="pk_broker_binding"),
    Index("ix_broker_binding_queue", "queue"),
)

messages = Table(
    "broker_message",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("queue", Text, nullable=False),
    Column("rank", SmallInteger, nullable=False, server_default=text(str(MAX_PRIORITY))),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("owner", Text, nullable=True),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("delivery_count", Integer, nullable=False, server_default=text("0")),
)

Index(
    "ix_broker_message_ready",
    messages.c.queue,
    messages.c.rank,
    messages.c.id,
    postgresql_where=messages.c.leased_until.is_(None),
)
Index(
    "ix_broker_message_leased_until",
    messages.c.leased_until,
    postgresql_where=messages.c.leased_until.isnot(None),
)
Index(
    "ix_broker_message_expires_at",
    messages.c.expires_at,
    postgresql_where=messages.c.expires_at.isnot(None),
)


def notify_channel(queue: str) -> str:
    """Return the LISTEN/NOTIFY channel of ``queue`` (names may exceed 63 bytes, digests do not)."""
    return "qgb_" + hashlib.md5(queue.encode()).hexdigest()


# Row triggers: a NOTIFY for every new message and for every message whose lease is released.
# PostgreSQL folds identical notifications of one transaction, so a batch wakes a queue once.
NOTIFY_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION broker_message_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qgb_' || md5(NEW.queue), '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGERS_SQL = (
    """
    CREATE TRIGGER broker_message_inserted AFTER INSERT ON broker_message
    FOR EACH ROW EXECUTE FUNCTION broker_message_notify()
    """,
    """
    CREATE TRIGGER broker_message_released AFTER UPDATE OF leased_until ON broker_message
    FOR EACH ROW WHEN (NEW.leased_until IS NULL AND OLD.leased_until IS NOT NULL)
    EXECUTE FUNCTION broker_message_notify()
    """,
)
DROP_NOTIFY_SQL = (
    "DROP TRIGGER IF EXISTS broker_message_released ON broker_message",
    "DROP TRIGGER IF EXISTS broker_message_inserted ON broker_message",
    "DROP FUNCTION IF EXISTS broker_message_notify()",
)
