"""Every statement the ``qgpg`` transport issues, in one place (PostgreSQL dialect)."""

from __future__ import annotations

import sqlalchemy as sa

_TTL = (
    "LEAST(now() + q.message_ttl_ms * interval '1 millisecond',"
    " now() + CAST(:ttl_ms AS integer) * interval '1 millisecond')"
)

# A redeclaration writes only when the durability changed (an exchange made before 0006).
DECLARE_EXCHANGE = sa.text(
    "INSERT INTO broker_exchange (name, type, durable) VALUES (:name, :type, :durable)"
    " ON CONFLICT (name) DO UPDATE SET durable = EXCLUDED.durable"
    " WHERE broker_exchange.durable IS DISTINCT FROM EXCLUDED.durable"
)
EXCHANGE = sa.text("SELECT type, durable FROM broker_exchange WHERE name = :name")
DECLARE_QUEUE = sa.text(
    "INSERT INTO broker_queue (name, expires_ms, message_ttl_ms, auto_delete, last_seen)"
    " VALUES (:name, :expires_ms, :message_ttl_ms, :auto_delete, now())"
    " ON CONFLICT (name) DO UPDATE SET expires_ms = EXCLUDED.expires_ms,"
    " message_ttl_ms = EXCLUDED.message_ttl_ms, auto_delete = EXCLUDED.auto_delete,"
    " last_seen = now()"
)
ENSURE_QUEUE = sa.text(
    "INSERT INTO broker_queue (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"
)
HAS_QUEUE = sa.text("SELECT 1 FROM broker_queue WHERE name = :name")
BIND = sa.text(
    "INSERT INTO broker_binding (exchange, routing_key, queue, pattern)"
    " VALUES (:exchange, :routing_key, :queue, :pattern) ON CONFLICT DO NOTHING"
)
UNBIND = sa.text(
    "DELETE FROM broker_binding WHERE exchange = :exchange AND routing_key = :routing_key"
    " AND queue = :queue"
)
TABLE = sa.text("SELECT routing_key, pattern, queue FROM broker_binding WHERE exchange = :exchange")
DELETE_QUEUE = sa.text("DELETE FROM broker_queue WHERE name = :name")

PUT = sa.text(
    "INSERT INTO broker_message (queue, rank, payload, expires_at)"
    f" SELECT u.name, :rank, :payload, {_TTL}"
    " FROM unnest(CAST(:queues AS text[])) AS u(name) LEFT JOIN broker_queue q ON q.name = u.name"
)
PUT_DIRECT = sa.text(
    "INSERT INTO broker_message (queue, rank, payload, expires_at)"
    f" SELECT b.queue, :rank, :payload, {_TTL}"
    " FROM broker_binding b JOIN broker_queue q ON q.name = b.queue"
    " WHERE b.exchange = :exchange AND b.routing_key = :routing_key"
)
PUT_FANOUT = sa.text(
    "INSERT INTO broker_message (queue, rank, payload, expires_at)"
    f" SELECT q.name, :rank, :payload, {_TTL}"
    " FROM broker_queue q"
    " WHERE q.name IN (SELECT queue FROM broker_binding WHERE exchange = :exchange)"
)
# kombu's topic patterns (``^a\.[^\.]+$``, ``.*?`` for ``#``) mean the same as PostgreSQL
# regular expressions, so topic routing is one statement like the others.
PUT_TOPIC = sa.text(
    "INSERT INTO broker_message (queue, rank, payload, expires_at)"
    f" SELECT q.name, :rank, :payload, {_TTL}"
    " FROM broker_queue q"
    " WHERE q.name IN (SELECT queue FROM broker_binding WHERE exchange = :exchange"
    " AND :routing_key ~ pattern)"
)


def _broadcast(match: str) -> sa.TextClause:
    """A fanout or topic publish of a transient message: consumer-lifetime queues (auto_delete
    or x-expires) get it as a NOTIFY on their channel, without a row; other queues get a row.
    Returns (rows stored, notifications sent)."""
    return sa.text(
        "WITH m AS (SELECT CAST(:payload AS text) AS payload),"  # sent once, used twice
        " target AS (SELECT q.name, q.message_ttl_ms,"
        " (q.auto_delete OR q.expires_ms IS NOT NULL) AS live FROM broker_queue q"
        f" WHERE q.name IN (SELECT queue FROM broker_binding WHERE exchange = :exchange{match})),"
        " stored AS (INSERT INTO broker_message (queue, rank, payload, expires_at)"
        f" SELECT q.name, :rank, m.payload, {_TTL} FROM target q, m WHERE NOT q.live RETURNING 1)"
        " SELECT (SELECT count(*) FROM stored),"
        " count(pg_notify('qgb_' || md5(q.name), m.payload)) FROM target q, m WHERE q.live"
    )


BROADCAST_FANOUT = _broadcast("")
BROADCAST_TOPIC = _broadcast(" AND :routing_key ~ pattern")

_PICK = (
    "SELECT id FROM broker_message"
    " WHERE queue = :queue AND leased_until IS NULL"
    " AND (expires_at IS NULL OR expires_at > now())"
    " ORDER BY rank, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
LEASE = sa.text(
    "UPDATE broker_message m SET owner = :owner,"
    " leased_until = now() + :lease * interval '1 second',"
    " delivery_count = m.delivery_count + 1"
    f" FROM ({_PICK}) AS picked WHERE m.id = picked.id"
    " RETURNING m.id, m.rank, m.payload, m.delivery_count"
)
TAKE = sa.text(
    f"DELETE FROM broker_message m USING ({_PICK}) AS picked WHERE m.id = picked.id"
    " RETURNING m.id, m.rank, m.payload, m.delivery_count + 1"
)
# The same, deleting the rows acked since the last round trip in the same statement.
_ACKED = "WITH acked AS (DELETE FROM broker_message WHERE id = ANY(:acks)) "
LEASE_ACK = sa.text(_ACKED + LEASE.text)
TAKE_ACK = sa.text(_ACKED + TAKE.text)
ACK = sa.text("DELETE FROM broker_message WHERE id = ANY(:ids)")
RELEASE = sa.text(
    "UPDATE broker_message SET owner = NULL, leased_until = NULL"
    " WHERE id = ANY(:ids) AND leased_until IS NOT NULL"
)
EXTEND = sa.text(
    "UPDATE broker_message SET leased_until = now() + :lease * interval '1 second'"
    " WHERE id = ANY(:ids) AND owner = :owner AND leased_until IS NOT NULL"
)
SIZE = sa.text(
    "SELECT count(*) FROM broker_message WHERE queue = :queue AND leased_until IS NULL"
    " AND (expires_at IS NULL OR expires_at > now())"
)
PURGE = sa.text(
    "WITH gone AS (DELETE FROM broker_message WHERE queue = :queue AND leased_until IS NULL"
    " RETURNING 1) SELECT count(*) FROM gone"
)
PURGE_ALL = sa.text("DELETE FROM broker_message WHERE queue = :queue")

TOUCH_QUEUES = sa.text(
    "UPDATE broker_queue SET last_seen = now() WHERE name = ANY(:names) RETURNING name"
)
# A get is use of a queue, as on RabbitMQ and Redis; only a queue that can expire needs the write.
TOUCH_EXPIRING_QUEUE = sa.text(
    "UPDATE broker_queue SET last_seen = now() WHERE name = :name AND expires_ms IS NOT NULL"
)
REAP_LEASES = sa.text(
    "UPDATE broker_message SET owner = NULL, leased_until = NULL WHERE leased_until < now()"
)
# Only one process at a time cleans up; the others skip the round instead of waiting.
CLEAN_UP_LOCK = sa.text("SELECT pg_try_advisory_lock(7346215890)")
CLEAN_UP_UNLOCK = sa.text("SELECT pg_advisory_unlock(7346215890)")
DELETE_EXPIRED_MESSAGES = sa.text(
    "DELETE FROM broker_message WHERE expires_at < now() AND leased_until IS NULL"
)
DELETE_EXPIRED_QUEUES = sa.text(
    "DELETE FROM broker_queue WHERE expires_ms IS NOT NULL"
    " AND last_seen + expires_ms * interval '1 millisecond' < now() RETURNING name"
)
DEAD_MESSAGE_ROWS = sa.text(
    "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables WHERE relid = 'broker_message'::regclass"
)
VACUUM_MESSAGES = sa.text("VACUUM broker_message")
DELETE_MESSAGES_OF = sa.text("DELETE FROM broker_message WHERE queue = ANY(:names)")
NOTIFY_QUEUE_USAGE = sa.text("SELECT pg_notification_queue_usage()")
TABLES_EXIST = sa.text("SELECT to_regclass('broker_message') IS NOT NULL")
