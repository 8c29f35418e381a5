"""Transient delivery: events and broadcasts reach consumer-lifetime queues as NOTIFY payloads,
without a row; tasks stay rows.

A message is transient when it is non-persistent (``delivery_mode`` 1, as Celery's events are)
or its exchange is not durable (kombu's pidbox broadcast exchange). Published through a fanout
or topic exchange, it goes as a notification to the bound queues that live with their consumer
(``auto_delete`` or ``x-expires``) and as a row to every other bound queue.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from kombu import Consumer, Exchange, Producer, Queue

from qgpg import clean_up_url, enqueue_in
from tests.integration.broker.conftest import FAST, wait_until_no_messages
from tests.support.pg import ROOT

EVENTS = Exchange("ev", "topic")  # durable, like Celery's ``celeryev`` on a non-Redis broker
BROADCAST = Exchange("bc.pidbox", "fanout", durable=False)  # like kombu's ``celery.pidbox``
TRANSIENT = 1


def _rows(url, where="true") -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM broker_message WHERE {where}")).scalar()
    finally:
        engine.dispose()


def _monitor(conn, name, exchange=EVENTS, routing_key="#", **options):
    """A consumer-lifetime queue like Flower's ``celeryev.<uuid>`` (auto_delete, x-expires)."""
    options = {"auto_delete": True, "expires": 60, **options}
    queue = Queue(name, exchange, routing_key=routing_key, **options)
    queue(conn.default_channel).declare()
    return queue


def _drain(conn, until, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not until():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=min(remaining, 0.5))


def test_an_event_reaches_two_bound_consumers_and_leaves_no_row(connect, pg_url, dequeues):
    flower, exporter, worker = connect(), connect(), connect()
    queues = {"flower": _monitor(flower, "ev.flower"), "exporter": _monitor(exporter, "ev.exp")}
    got = {"flower": [], "exporter": []}

    def keep(name):
        def on_message(body, message):
            got[name].append((body, message.delivery_info["routing_key"]))
            message.ack()  # a transient message has no row: an ack is a no-op
        return on_message

    producer = Producer(worker.default_channel)
    with Consumer(flower.default_channel, [queues["flower"]], callbacks=[keep("flower")]), \
         Consumer(exporter.default_channel, [queues["exporter"]], callbacks=[keep("exporter")],
                  no_ack=True):  # fmt: skip
        _drain(flower, lambda: False, 0.3)  # the first look at each queue
        _drain(exporter, lambda: False, 0.3)
        with dequeues(flower) as fetched:
            for n in range(3):
                producer.publish({"n": n}, exchange=EVENTS, routing_key="task.succeeded",
                                 delivery_mode=TRANSIENT)
                assert _rows(pg_url) == 0
            _drain(flower, lambda: len(got["flower"]) == 3)
            _drain(exporter, lambda: len(got["exporter"]) == 3)
        assert fetched == [], "a transient message needs no dequeue"
    expected = [({"n": n}, "task.succeeded") for n in range(3)]
    assert got["flower"] == expected and got["exporter"] == expected
    assert _rows(pg_url) == 0


def test_a_broadcast_through_a_non_durable_fanout_exchange_leaves_no_row(connect, pg_url):
    a, b = connect(), connect()
    queues = [_monitor(a, "w1.pidbox", BROADCAST, ""), _monitor(b, "w2.pidbox", BROADCAST, "")]
    got = []
    with Consumer(a.default_channel, [queues[0]], callbacks=[lambda body, m: got.append("a")],
                  no_ack=True), \
         Consumer(b.default_channel, [queues[1]], callbacks=[lambda body, m: got.append("b")],
                  no_ack=True):  # fmt: skip
        # kombu publishes pidbox broadcasts by exchange name: they carry delivery mode 2.
        Producer(connect().default_channel).publish({"method": "ping"}, exchange="bc.pidbox")
        assert _rows(pg_url) == 0
        _drain(a, lambda: "a" in got)
        _drain(b, lambda: "b" in got)
    assert sorted(got) == ["a", "b"]


def test_durable_queues_and_persistent_messages_still_get_rows(connect, pg_url):
    conn = connect()
    _monitor(conn, "ev.monitor")
    # A durable queue bound to the events exchange keeps even transient messages.
    Queue("ev.archive", EVENTS, routing_key="#")(conn.default_channel).declare()
    producer = Producer(conn.default_channel)
    producer.publish({"n": 1}, exchange=EVENTS, routing_key="task.sent", delivery_mode=TRANSIENT)
    assert _rows(pg_url, "queue = 'ev.archive'") == 1
    assert _rows(pg_url, "queue = 'ev.monitor'") == 0
    # A persistent message through a durable exchange is a row for every queue.
    producer.publish({"n": 2}, exchange=EVENTS, routing_key="task.sent")
    assert _rows(pg_url, "queue = 'ev.archive'") == 2
    assert _rows(pg_url, "queue = 'ev.monitor'") == 1


def test_a_message_too_big_for_a_notify_comes_as_a_row(connect, pg_url):
    conn = connect()
    queue = _monitor(conn, "ev.big")
    got = []
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, m: got.append(body)],
                  no_ack=True):
        big = {"args": "x" * 9000}  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
        Producer(connect().default_channel).publish(big, exchange=EVENTS, routing_key="task.x",
                                                    delivery_mode=TRANSIENT)
        assert _rows(pg_url, "queue = 'ev.big'") == 1
        _drain(conn, lambda: got)
    assert got == [big]
    wait_until_no_messages(pg_url)


def test_a_consumer_that_is_not_listening_misses_a_transient_message(connect, pg_url):
    """At most once, like a Redis PUBLISH: nobody listening, nobody gets it, nothing is kept."""
    conn = connect()
    queue = _monitor(conn, "ev.late")
    Producer(connect().default_channel).publish({"n": 1}, exchange=EVENTS, routing_key="task.x",
                                                delivery_mode=TRANSIENT)
    got = []
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, m: got.append(body)],
                  no_ack=True):
        _drain(conn, lambda: got, 1.0)
    assert got == [] and _rows(pg_url) == 0


def test_a_transient_message_published_in_a_transaction_goes_out_at_commit(connect, pg_url):
    conn = connect()
    queue = _monitor(conn, "ev.tx")
    got = []
    producer = Producer(connect().default_channel)
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, m: got.append(body)],
                  no_ack=True):
        with engine.connect() as db:
            with db.begin(), enqueue_in(db):
                producer.publish({"n": "rolled back"}, exchange=EVENTS, routing_key="task.x",
                                 delivery_mode=TRANSIENT)
                db.rollback()
            with db.begin(), enqueue_in(db):
                producer.publish({"n": "committed"}, exchange=EVENTS, routing_key="task.x",
                                 delivery_mode=TRANSIENT)
                _drain(conn, lambda: got, 0.5)
                assert got == [], "delivered before the commit"
        _drain(conn, lambda: got)
    engine.dispose()
    assert got == [{"n": "committed"}]


def test_an_acking_consumer_gets_transient_messages_within_its_prefetch(connect):
    conn = connect()
    queue = _monitor(conn, "ev.qos")
    held = []
    channel = conn.default_channel
    channel.basic_qos(0, 1, False)
    with Consumer(channel, [queue], callbacks=[lambda body, message: held.append(message)]):
        producer = Producer(connect().default_channel)
        for n in range(3):
            producer.publish({"n": n}, exchange=EVENTS, routing_key="task.x",
                             delivery_mode=TRANSIENT)
        _drain(conn, lambda: held, 2.0)
        _drain(conn, lambda: len(held) > 1, 0.5)
        assert [m.payload for m in held] == [{"n": 0}], "prefetch 1 was exceeded"
        for count in (2, 3):  # each ack frees the slot for the next one
            held[-1].ack()
            _drain(conn, lambda count=count: len(held) == count)
        assert [m.payload["n"] for m in held] == [0, 1, 2]
        held[-1].ack()


_CRASHING_CONSUMER = """
import sys, time
from kombu import Connection, Queue
import qgpg
conn = Connection(sys.argv[1], transport_options={options!r})
message = Queue("tasks")(conn.default_channel).get()
print(message.payload["job"], flush=True)
time.sleep(60)
"""


def test_a_task_message_is_a_row_and_survives_a_consumer_crash(connect, broker_url, pg_url):
    conn = connect()
    Queue("tasks", Exchange("tasks", "direct"), routing_key="tasks")(conn.default_channel).declare()
    # Celery's task messages are persistent; even a transient one to a durable queue is a row.
    producer = Producer(conn.default_channel)
    producer.publish({"job": 7}, exchange="tasks", routing_key="tasks")
    producer.publish({"job": 8}, exchange="tasks", routing_key="tasks", delivery_mode=TRANSIENT)
    assert _rows(pg_url, "queue = 'tasks'") == 2
    with subprocess.Popen(
        [sys.executable, "-c", _CRASHING_CONSUMER.format(options=FAST), broker_url],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    ) as crasher:
        try:
            assert crasher.stdout.readline().strip() == "7"  # leased, not acked
        finally:
            crasher.send_signal(signal.SIGKILL)
    bound = Queue("tasks")(conn.default_channel)
    first = bound.get()
    assert first.payload == {"job": 8}  # the crashed consumer's message is still leased
    first.ack()
    time.sleep(FAST["lease_seconds"] + 0.2)
    clean_up_url(pg_url)
    again = bound.get()
    assert again is not None, "the crashed consumer's task was lost"
    assert again.payload == {"job": 7} and again.delivery_info.get("redelivered") is True
    again.ack()
    assert _rows(pg_url) == 0
