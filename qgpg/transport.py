"""The ``qgpg`` kombu transport: Celery on PostgreSQL without losing, stalling or leaking.

* Dequeue: ``UPDATE ... FROM (SELECT ... ORDER BY rank, id LIMIT n FOR UPDATE SKIP LOCKED)``, a
  batch up to the free prefetch slots, so consumers never queue behind each other's row locks.
* Wake-ups: a trigger NOTIFYs ``qgb_<md5(queue)>`` in the publishing transaction. Each kombu
  connection keeps one LISTEN connection; a Celery worker registers its socket with the event
  loop (``implements.asynchronous``), other consumers ``select()`` on it in ``drain_events``.
  A slow poll (``polling_interval``) is the safety net for a missed notification.
* Leases: a delivered message gets ``owner`` and ``leased_until``; ack deletes, reject/requeue
  releases. A per-process keeper thread (``_keeper.py``) extends the leases of the messages the
  process still holds and releases everybody's expired leases, so a killed worker's messages
  come back and a two-hour task keeps its message.
* Exchanges and bindings live in tables, so fanout (remote control, events) and direct replies
  reach every process. Consumer queues with ``x-expires`` (pidbox replies, event receivers) are
  refreshed while consumed and swept when their consumer is gone, with their messages.
* Transient delivery: a non-persistent message (Celery's events) or one through a non-durable
  exchange (kombu's pidbox broadcasts), published through a fanout or topic exchange, reaches
  the consumer-lifetime queues (``auto_delete`` or ``x-expires``) as the payload of a NOTIFY
  on their channel: no row, no dequeue, at most once (like a Redis PUBLISH). Durable queues,
  direct exchanges and payloads of 8000 bytes or more still get rows.

kombu's stock SQLAlchemy transport is subclassed for its identity (driver name, version, URL
parsing); its channel is not, because every one of its methods is replaced here.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections import deque
from queue import Empty

import psycopg2
import sqlalchemy as sa
from kombu.entity import TRANSIENT_DELIVERY_MODE
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport import virtual
from kombu.transport.base import to_rabbitmq_queue_arguments

from qgpg import sql
from qgpg._keeper import forget as keeper_forget
from qgpg._keeper import keeper_for
from qgpg.engine import client_url, dispose, engine_for, sqlalchemy_url
from qgpg.enqueue import current_transaction
from qgpg.errors import TablesMissing
from qgpg.listener import Listener
from qgpg.nudge import Nudge
from qgpg.schema import MAX_PRIORITY

logger = logging.getLogger(__name__)

def forget(url: str) -> None:
    """Stop the keeper and close the pooled connections of ``url`` in this process."""
    url = sqlalchemy_url(url)
    keeper_forget(url)
    dispose(url)


# PostgreSQL refuses a NOTIFY payload of this many bytes or more; a transient message that big
# is stored as a row instead.
NOTIFY_PAYLOAD_LIMIT = 8000
# Transient messages a channel keeps for a consumer whose prefetch slots are full; past this,
# the oldest go (they are at-most-once anyway).
TRANSIENT_BACKLOG = 10_000
# Delivery tags of transient messages start with this; the others are "<row id>.<count>".
_TRANSIENT_TAG = "t"


def _row_id(delivery_tag: str) -> int | None:
    """Return the message row a delivery tag names, or None for a transient message."""
    head = str(delivery_tag).split(".", 1)[0]
    return None if head == _TRANSIENT_TAG else int(head)


def _transient(message: dict, exchange_durable: bool) -> bool:
    """Whether a fanout or topic message may skip its row where a consumer-lifetime queue gets it.

    True when the message is non-persistent (``delivery_mode`` 1: Celery's events) or its
    exchange is not durable (kombu's ``celery.pidbox``, whose broadcasts kombu publishes by
    exchange name, so they carry delivery mode 2). Direct exchanges never ask (pidbox replies
    are transient but stay rows: their client listens only after broadcasting).
    """
    return (
        message["properties"].get("delivery_mode") == TRANSIENT_DELIVERY_MODE
        or not exchange_durable
    )


def _rank(message: dict) -> int:
    try:
        priority = int(message["properties"].get("priority") or 0)
    except (TypeError, ValueError):
        priority = 0
    return MAX_PRIORITY - max(0, min(priority, MAX_PRIORITY))


def _ttl_ms(message: dict) -> int | None:
    expiration = message["properties"].get("expiration")
    try:
        return int(float(expiration)) if expiration is not None else None
    except (TypeError, ValueError):
        return None


class QoS(virtual.QoS):
    """Unacked messages are leased rows: ack deletes, reject releases or deletes."""

    def __init__(self, channel, prefetch_count=0):
        super().__init__(channel, prefetch_count)
        self._pid = os.getpid()

    def append(self, message, delivery_tag):
        super().append(message, delivery_tag)
        row_id = _row_id(delivery_tag)
        if row_id is not None:
            self.channel.keeper.hold(row_id)

    def ack(self, delivery_tag):
        row_id = _row_id(delivery_tag)
        if row_id is None:  # a transient message: nothing stored, nothing to delete
            return super().ack(delivery_tag)
        self.channel.keeper.drop([row_id])
        if self.channel.defers_acks:
            # An event-loop consumer deletes acked rows in its next round trip (see
            # Channel._fetch): one statement per loop tick instead of one per message.
            self.channel.keeper.ack_later(row_id)
        else:
            self.channel._execute(sql.ACK, {"ids": [row_id]})
        super().ack(delivery_tag)
        self._slot_freed()

    def _slot_freed(self) -> None:
        # A consumer at its prefetch limit left its queues marked; nothing else may wake the
        # event loop before the safety poll (a worker of concurrency 1 would wait for it after
        # every task), so the freed slot starts the next delivery round itself.
        if self.channel._dirty:
            self.channel.transport.deliver_soon()

    def reject(self, delivery_tag, requeue=False):
        row_id = _row_id(delivery_tag)
        if row_id is None:
            # A transient message has no row to release: a requeue drops it (at most once).
            return self._quick_ack(delivery_tag)
        # Stop extending the lease first: when the statement fails (the database is down), the
        # lease runs out and the message comes back, instead of staying leased by this process.
        self.channel.keeper.drop([row_id])
        try:
            self.channel._execute(sql.RELEASE if requeue else sql.ACK, {"ids": [row_id]})
        except self.channel.connection_errors as err:
            logger.warning("could not %s message %s (%s); its lease expires and it comes back",
                           "release" if requeue else "delete", row_id, err)  # fmt: skip
        self._quick_ack(delivery_tag)
        self._slot_freed()

    def restore_unacked(self):
        """Release the leases of everything still unacked (on close)."""
        self._flush()
        ids = [row_id for tag in self._delivered if (row_id := _row_id(tag)) is not None]
        self._delivered.clear()
        if not ids or self._pid != os.getpid():
            return []
        self.channel.keeper.drop(ids)
        try:
            self.channel._execute(sql.RELEASE, {"ids": ids})
        except self.channel.connection_errors as err:
            # The leases run out on their own and the messages come back then.
            logger.warning("could not release %d leased messages (%s); they expire", len(ids), err)
        return []


class Channel(virtual.Channel):
    """A virtual channel whose state (messages, queues, exchanges, bindings) is in PostgreSQL."""

    QoS = QoS
    supports_fanout = True
    max_priority = MAX_PRIORITY

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._no_ack_queues: set[str] = set()
        self._dirty: set[str] = set()
        self._pid = os.getpid()
        self._last_fetch = 0.0
        # Transient messages received for this channel's consumers and not yet delivered.
        self._transient: dict[str, deque] = {}
        self._transient_tags = itertools.count(1)
        self._dropped = 0

    # -- plumbing --------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        return self.connection

    @property
    def keeper(self):
        return keeper_for(self._url, self._options)

    @property
    def _url(self) -> str:
        return self._transport_attr("url")

    @property
    def _options(self) -> dict:
        return self._transport_attr("options")

    def _transport_attr(self, name):
        # QoS may ack after the channel was closed (connection is then None).
        transport = self.connection or self._last_transport
        return getattr(transport, name)

    @property
    def connection_errors(self):
        return Transport.connection_errors

    @property
    def engine(self) -> sa.engine.Engine:
        return engine_for(self._url, self._options.get("engine_options"))

    def _execute(self, statement, params=None):
        with self.engine.connect() as conn:
            return conn.execute(statement, params or {})

    @property
    def defers_acks(self) -> bool:
        transport = self.connection or self._last_transport
        return transport is not None and transport._loop is not None

    def _rows(self, statement, params=None) -> list:
        with self.engine.connect() as conn:
            return conn.execute(statement, params or {}).all()

    def _insert(self, statement, params) -> None:
        """Insert message rows, on the caller's transaction inside ``enqueue_in``."""
        tx = current_transaction()
        if tx is not None:
            tx.published += tx.connection.execute(statement, params).rowcount
        else:
            self._execute(statement, params)

    # -- exchanges, queues, bindings --------------------------------------------------------
    def exchange_declare(self, exchange=None, type="direct", durable=False, auto_delete=False,
                         arguments=None, nowait=False, passive=False):
        type = type or "direct"
        exchange = exchange or f"amq.{type}"
        if passive:
            if self._exchange_type(exchange) is None:
                super().exchange_declare(exchange, type, passive=True)
            return
        super().exchange_declare(exchange, type, durable, auto_delete, arguments, nowait)
        self._execute(sql.DECLARE_EXCHANGE, {"name": exchange, "type": type,
                                             "durable": bool(durable)})
        _exchanges[(self._url, exchange)] = (type, bool(durable))

    def exchange_delete(self, exchange, if_unused=False, nowait=False):
        with self.engine.connect() as conn:
            conn.execute(sa.text("DELETE FROM broker_binding WHERE exchange = :e"), {"e": exchange})
            conn.execute(sa.text("DELETE FROM broker_exchange WHERE name = :e"), {"e": exchange})
        self.state.exchanges.pop(exchange, None)
        _exchanges.pop((self._url, exchange), None)

    def _exchange(self, exchange: str) -> tuple[str, bool] | None:
        """Return ``(type, durable)`` of ``exchange``, or None when nobody declared it."""
        known = self.state.exchanges.get(exchange)
        if known is not None:
            return known["type"], bool(known.get("durable", True))
        key = (self._url, exchange)
        cached = _exchanges.get(key)
        if cached is None:
            row = self._execute(sql.EXCHANGE, {"name": exchange}).first()
            if row is not None:
                cached = _exchanges[key] = (row[0], bool(row[1]))
        return cached

    def _exchange_type(self, exchange: str) -> str | None:
        known = self._exchange(exchange)
        return known[0] if known is not None else None

    def typeof(self, exchange, default="direct"):
        return self.exchange_types[self._exchange_type(exchange) or default]

    def prepare_queue_arguments(self, arguments, **kwargs):
        # Turn kombu's expires/message_ttl into x-expires/x-message-ttl, as AMQP brokers do.
        return to_rabbitmq_queue_arguments(arguments, **kwargs)

    def _new_queue(self, queue, auto_delete=False, arguments=None, **kwargs):
        arguments = arguments or {}
        expires = arguments.get("x-expires")
        if expires is None and auto_delete:
            # AMQP drops an auto-delete queue with its last consumer; here it goes once no
            # consumer has refreshed it for ``auto_delete_expires`` seconds.
            expires = self.transport.auto_delete_expires * 1000
        params = {
            "name": queue,
            "expires_ms": int(expires) if expires is not None else None,
            "message_ttl_ms": arguments.get("x-message-ttl"),
            "auto_delete": bool(auto_delete),
        }
        self._execute(sql.DECLARE_QUEUE, params)
        self.keeper.remember_queue(queue, params)

    def _has_queue(self, queue, **kwargs):
        return self._execute(sql.HAS_QUEUE, {"name": queue}).first() is not None

    def queue_bind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        exchange = exchange or "amq.direct"
        routing_key = routing_key or ""
        _, pattern, _ = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
        params = {"exchange": exchange, "routing_key": routing_key, "queue": queue,
                  "pattern": pattern}
        with self.engine.connect() as conn:
            conn.execute(sql.ENSURE_QUEUE, {"name": queue})
            conn.execute(sql.BIND, params)
        if not self.state.has_binding(queue, exchange, routing_key):
            self.state.binding_declare(queue, exchange, routing_key, arguments)
        self.keeper.remember_binding(queue, params)

    def queue_unbind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        exchange = exchange or "amq.direct"
        self._execute(sql.UNBIND, {"exchange": exchange, "routing_key": routing_key or "",
                                   "queue": queue})
        self.state.binding_delete(queue, exchange, routing_key)
        self.keeper.forget_binding(queue, exchange, routing_key or "")

    def queue_delete(self, queue, if_unused=False, if_empty=False, **kwargs):
        if if_empty and self._size(queue):
            return
        with self.engine.connect() as conn:
            conn.execute(sql.DELETE_QUEUE, {"name": queue})
            conn.execute(sql.PURGE_ALL, {"queue": queue})
        self.state.queue_bindings_delete(queue)
        self.keeper.forget_queue(queue)

    def get_table(self, exchange):
        return [tuple(row) for row in self._rows(sql.TABLE, {"exchange": exchange})]

    def list_bindings(self):
        rows = self._rows(sa.text("SELECT queue, exchange, routing_key FROM broker_binding"))
        return (tuple(row) for row in rows)

    # -- publishing -------------------------------------------------------------------------
    def basic_publish(self, message, exchange, routing_key, **kwargs):
        self._inplace_augment_message(message, exchange, routing_key)
        if not exchange:
            return self._put(routing_key, message)
        kind, durable = self._exchange(exchange) or ("direct", True)
        if kind == "direct":
            params = self._message_params(message)
            return self._insert(sql.PUT_DIRECT, {**params, "exchange": exchange,
                                                 "routing_key": routing_key or ""})
        return self._publish_broadcast(kind, durable, exchange, routing_key, message)

    def _publish_broadcast(self, kind, durable, exchange, routing_key, message) -> None:
        """Publish through a fanout or topic exchange.

        A transient message (see ``_transient``) goes to the consumer-lifetime queues among the
        bound ones as a NOTIFY on their channel, without a row: at most once, to the consumers
        listening at that moment, like a Redis PUBLISH. Durable queues always get a row, and so
        does every queue when the message is too big for a NOTIFY.
        """
        params = self._message_params(message)
        if kind == "topic":
            params["routing_key"] = routing_key or ""
        params["exchange"] = exchange
        if _transient(message, durable) and len(params["payload"]) < NOTIFY_PAYLOAD_LIMIT:
            # json.dumps writes ASCII only: its length is the payload's size in bytes.
            statement = sql.BROADCAST_TOPIC if kind == "topic" else sql.BROADCAST_FANOUT
            tx = current_transaction()
            if tx is not None:  # the notifications go out when the caller commits
                tx.published += tx.connection.execute(statement, params).one()[0]
            else:
                self._execute(statement, params)
            return
        self._insert(sql.PUT_TOPIC if kind == "topic" else sql.PUT_FANOUT, params)

    @staticmethod
    def _message_params(message: dict) -> dict:
        return {"rank": _rank(message), "payload": json.dumps(message),
                "ttl_ms": _ttl_ms(message)}

    def _put(self, queue, message, **kwargs):
        self._insert(sql.PUT, {**self._message_params(message), "queues": [queue]})

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        durable = (self._exchange(exchange) or ("fanout", True))[1]
        self._publish_broadcast("fanout", durable, exchange, routing_key, message)

    # -- consuming --------------------------------------------------------------------------
    def _fetch(self, queue: str, limit: int, no_ack: bool) -> list[dict]:
        keeper = self.keeper
        acks = keeper.take_acks()
        params = {"queue": queue, "limit": limit, "owner": keeper.owner,
                  "lease": self.transport.lease_seconds, "acks": acks}
        self._last_fetch = time.monotonic()
        try:
            rows = self._rows((sql.TAKE_ACK if no_ack else sql.LEASE_ACK) if acks else
                              (sql.TAKE if no_ack else sql.LEASE), params)
        except BaseException:
            keeper.ack_later(*acks)
            raise
        rows.sort(key=lambda row: (row[1], row[0]))
        out = []
        for row_id, _, payload, count in rows:
            message = json.loads(payload)
            props = message["properties"]
            props["delivery_tag"] = f"{row_id}.{count}"
            if count > 1:
                message["redelivered"] = True
                props.setdefault("delivery_info", {})["redelivered"] = True
            out.append(message)
        return out

    def receive_transient(self, queue: str, message: dict) -> None:
        """Keep a transient message for this channel's consumer of ``queue`` until delivery."""
        message["properties"]["delivery_tag"] = f"{_TRANSIENT_TAG}.{next(self._transient_tags)}"
        pending = self._transient.get(queue)
        if pending is None:
            pending = self._transient[queue] = deque(maxlen=TRANSIENT_BACKLOG)
        if len(pending) == TRANSIENT_BACKLOG:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                logger.warning("broker: %d transient messages dropped so far; the consumer of %s"
                               " is %d behind", self._dropped, queue, TRANSIENT_BACKLOG)  # fmt: skip
        pending.append(message)

    def _deliver_transient(self) -> int:
        delivered = 0
        for queue, pending in list(self._transient.items()):
            no_ack = queue in self._no_ack_queues
            # A callback may cancel the consumer (which drops what is pending for it).
            while pending and queue in self._active_queues and (no_ack or self.qos.can_consume()):
                self.connection._deliver(pending.popleft(), queue)
                delivered += 1
            if not pending or queue not in self._active_queues:
                self._transient.pop(queue, None)
        return delivered

    def _get(self, queue, timeout=None):
        messages = self._fetch(queue, 1, no_ack=False)
        if not messages:
            raise Empty()
        return messages[0]

    def basic_get(self, queue, no_ack=False, **kwargs):
        # A client that polls an x-expires queue with get (and no consumer, whose keeper would
        # refresh it) keeps it alive, even finding it empty, as on RabbitMQ and Redis.
        self._execute(sql.TOUCH_EXPIRING_QUEUE, {"name": queue})
        messages = self._fetch(queue, 1, no_ack=no_ack)
        if not messages:
            return None
        message = self.Message(messages[0], channel=self)
        if not no_ack:
            self.qos.append(message, message.delivery_tag)
        return message

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)
        if no_ack:
            self._no_ack_queues.add(queue)
        self.transport.listen(queue)
        self.keeper.watch(queue)
        self._dirty.add(queue)

    def basic_cancel(self, consumer_tag):
        queue = self._tag_to_queue.get(consumer_tag)
        super().basic_cancel(consumer_tag)
        if queue is not None and queue not in self._active_queues:
            self._no_ack_queues.discard(queue)
            self._dirty.discard(queue)
            self._transient.pop(queue, None)
            self.keeper.unwatch(queue)
            if self.connection is not None:
                self.connection.unlisten(queue)

    def mark_dirty(self, queues=None) -> None:
        active = set(self._active_queues)
        self._dirty |= active if queues is None else (active & queues)

    def deliver_ready(self) -> int:
        """Fetch and deliver what the notified queues hold, up to the free prefetch slots."""
        if not self._consumers or not (self._dirty or self._transient):
            return 0
        delivered = self._deliver_transient() if self._transient else 0
        batch = self.transport.batch_size
        for queue in list(self._active_queues):
            if queue not in self._dirty:
                continue
            no_ack = queue in self._no_ack_queues
            limit = batch
            if not no_ack:
                free = self.qos.can_consume_max_estimate()
                if free is not None:
                    limit = min(free, batch)
                    if self._coalesce(free):
                        break
                if limit <= 0:
                    break
            self._dirty.discard(queue)
            # A batch is leased even for a no_ack consumer: each message leaves the queue when
            # it is handed to the callback (its deletion rides on the next round trip), so the
            # rest of a batch whose callback raised is released, not lost.
            messages = self._fetch(queue, limit, no_ack=False)
            if len(messages) >= limit:
                self._dirty.add(queue)  # there may be more
            for index, message in enumerate(messages):
                if no_ack:
                    self.keeper.ack_later(_row_id(message["properties"]["delivery_tag"]))
                try:
                    self.connection._deliver(message, queue)
                except BaseException:
                    self._release_undelivered(messages[index + 1 :])
                    raise
                delivered += 1
        return delivered

    def _coalesce(self, free: int) -> bool:
        """Under load, let free prefetch slots pile up for a few ms and fetch them together.

        Only in an event loop, only while this channel still holds messages and fetched
        within ``FETCH_COALESCE`` seconds; a timer makes sure the fetch follows.
        """
        transport = self.transport
        prefetch = self.qos.prefetch_count
        if transport._loop is None or free >= prefetch or free >= max(1, prefetch // 2):
            return False
        if time.monotonic() - self._last_fetch >= FETCH_COALESCE:
            return False
        transport.retry_soon()
        return True

    def _release_undelivered(self, messages: list[dict]) -> None:
        ids = [_row_id(m["properties"]["delivery_tag"]) for m in messages]
        if ids:
            self._execute(sql.RELEASE, {"ids": ids})

    def _size(self, queue):
        return self._execute(sql.SIZE, {"queue": queue}).scalar()

    def _purge(self, queue):
        return self._execute(sql.PURGE, {"queue": queue}).scalar()

    def close(self):
        if not self.closed:
            self._last_transport = self.connection
        super().close()

    _last_transport = None


# (url, exchange) -> (type, durable): declared here, or read once from broker_exchange.
_exchanges: dict[tuple[str, str], tuple[str, bool]] = {}
# How long a busy worker lets free prefetch slots accumulate before fetching them together.
FETCH_COALESCE = 0.005


class Transport(kombu_sqla.Transport):
    """kombu transport ``qgpg``: see the module docstring."""

    Channel = Channel
    polling_interval = 2.0  # the safety-net poll; notifications wake consumers at once
    driver_name = "psycopg2"
    # Not the stock "sql": Celery disables worker events for driver_type "sql" (and mingle and
    # gossip run only on amqp/redis, so a qgpg worker starts without them).
    driver_type = "postgresql"

    implements = virtual.Transport.implements.extend(
        asynchronous=True,
        exchange_type=frozenset(["direct", "topic", "fanout"]),
    )
    connection_errors = (
        sa.exc.OperationalError,
        sa.exc.InterfaceError,
        sa.exc.DisconnectionError,
        sa.exc.TimeoutError,
        psycopg2.OperationalError,
        psycopg2.InterfaceError,
        ConnectionError,
    )
    channel_errors = virtual.Transport.channel_errors

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        opts = client.transport_options
        self.url = client_url(client)
        self.lease_seconds = float(opts.get("lease_seconds", 60))
        self.batch_size = int(opts.get("batch_size", 100))
        self.auto_delete_expires = float(opts.get("auto_delete_expires", 60))
        self.options = {
            "lease_seconds": self.lease_seconds,
            "heartbeat_interval": float(
                opts.get("heartbeat_interval", min(self.lease_seconds / 4, 5.0))
            ),
            "cleanup_interval": float(opts.get("cleanup_interval", 30)),
            "engine_options": dict(opts.get("engine_options") or {}),
        }
        self._listener: Listener | None = None
        self._loop = None
        self._nudge: Nudge | None = None
        self._retry_pending = False
        self._listened: dict[str, int] = {}
        self._last_poll = time.monotonic()

    def driver_version(self):
        return psycopg2.__version__

    # -- connection life cycle -------------------------------------------------------------
    def establish_connection(self):
        engine = engine_for(self.url, self.options["engine_options"])
        with engine.connect() as conn:
            if not conn.execute(sql.TABLES_EXIST).scalar():
                raise TablesMissing(
                    "the broker tables are missing in this database; run `alembic upgrade head`"
                )
        return super().establish_connection()

    def _ensure_listener(self) -> Listener:
        """Open the LISTEN connection on first need (producers never need one)."""
        if self._listener is not None and self._listener.conn.closed:
            self._listener = None  # broken by a lost server; kombu retries through here
        if self._listener is None:
            listener = Listener(self.url)
            for queue in self._listened:
                listener.listen(queue)
            self._listener = listener
            if self._listened:  # a new connection: what was notified meanwhile went unheard
                self._mark_dirty()
        return self._listener

    def close_connection(self, connection):
        try:
            if self._loop is not None:
                with contextlib.suppress(*self.connection_errors):
                    self._flush_acks()
            super().close_connection(connection)
        finally:
            if self._loop is not None:
                self._loop.on_tick.discard(self._on_tick)
                if self._nudge is not None:
                    self._loop.remove_reader(self._nudge.fileno())
                    self._nudge.close()
                    self._nudge = None
                self._loop = None
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def listen(self, queue: str) -> None:
        self._listened[queue] = self._listened.get(queue, 0) + 1
        self._ensure_listener().listen(queue)

    def unlisten(self, queue: str) -> None:
        count = self._listened.get(queue, 0) - 1
        if count > 0:
            self._listened[queue] = count
            return
        self._listened.pop(queue, None)
        if self._listener is not None and self._listener.pid == os.getpid():
            with contextlib.suppress(psycopg2.Error):
                self._listener.unlisten(queue)

    # -- waking up --------------------------------------------------------------------------
    def _mark_dirty(self, queues=None) -> None:
        for channel in list(self.channels):
            channel.mark_dirty(queues)

    def _on_readable(self, *args) -> None:
        if self._listener is None:
            return
        woken, messages = self._listener.drain()
        for queue, payload in messages:
            self._receive_transient(queue, payload)
        if woken:
            self._mark_dirty(woken)
        if (woken or messages) and args and self._loop is not None:
            # Called by the event loop: deliver now rather than on the next tick.
            self._deliver_ready()

    def _receive_transient(self, queue: str, payload: str) -> None:
        """Hand a transient message to a channel consuming ``queue``; it needs no query."""
        channel = next((c for c in list(self.channels) if queue in c._active_queues), None)
        if channel is None:  # its consumer was cancelled meanwhile
            return
        try:
            message = json.loads(payload)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("properties"), dict):
            logger.warning("broker: dropped a notification on %s that is no message", queue)
            return
        channel.receive_transient(queue, message)

    def _deliver_ready(self) -> int:
        return sum(channel.deliver_ready() for channel in list(self.channels))

    def _on_tick(self) -> None:
        if self._listener is not None:
            if self._deliver_ready() and self._nudge is not None:
                self._nudge()  # see Nudge: the pool may have looked for work already
            self._flush_acks()

    def retry_soon(self) -> None:
        """Run another delivery round in ``FETCH_COALESCE`` seconds (event loop only)."""
        if self._loop is not None and not self._retry_pending:
            self._retry_pending = True
            self._loop.call_later(FETCH_COALESCE, self._retry)

    def deliver_soon(self) -> None:
        """Run a delivery round on the event loop's next turn (event loop only)."""
        if self._loop is not None and not self._retry_pending:
            self._retry_pending = True
            self._loop.call_soon(self._retry)

    def _retry(self) -> None:
        self._retry_pending = False
        self._on_tick()

    def _flush_acks(self) -> None:
        keeper = keeper_for(self.url, self.options)
        acks = keeper.take_acks()
        if acks:
            try:
                with engine_for(self.url, self.options["engine_options"]).connect() as conn:
                    conn.execute(sql.ACK, {"ids": acks})
            except BaseException:
                keeper.ack_later(*acks)
                raise

    def _safety_poll(self) -> None:
        self._last_poll = time.monotonic()
        self._mark_dirty()

    def register_with_event_loop(self, connection, loop):
        self._loop = loop
        loop.add_reader(self._ensure_listener().fileno(), self._on_readable, True)
        if self._nudge is None:
            self._nudge = Nudge()
        loop.add_reader(self._nudge.fileno(), self._nudge.clear)
        loop.on_tick.add(self._on_tick)
        loop.call_repeatedly(self.polling_interval, self._safety_poll)

    def drain_events(self, connection, timeout=None):
        """Deliver what is ready, else sleep on the LISTEN socket (not a fixed interval)."""
        start = time.monotonic()
        listener = self._ensure_listener()
        while True:
            if self._deliver_ready():
                return
            # The safety poll runs every polling_interval, not at the end of every short
            # drain: Flower and `celery inspect` drain with a 1 s timeout in a loop.
            now = time.monotonic()
            next_poll = self._last_poll + self.polling_interval
            wait = next_poll - now
            if timeout is not None:
                remaining = timeout - (now - start)
                if remaining <= 0:
                    raise TimeoutError()
                wait = min(wait, remaining)
            if listener.wait(wait):
                self._on_readable()
            elif time.monotonic() >= next_poll:
                self._safety_poll()

