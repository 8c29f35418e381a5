"""The qgpg transport at the kombu level: ordering, leases, shared bindings, wake-ups, cleanup."""

from __future__ import annotations

import select
import threading
import time

import pytest
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Producer, Queue

import qgpg
from qgpg import clean_up_url, sql
from qgpg.errors import TablesMissing
from tests.integration.broker.conftest import wait_until_no_messages


def _scalar(url, sql, **params):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return result.scalar() if result.returns_rows else result.rowcount
    finally:
        engine.dispose()


def _declare(conn, name="jobs", exchange=None, routing_key="jobs", **queue_options):
    exchange = exchange or Exchange("jobs_ex", "direct")
    queue = Queue(name, exchange, routing_key=routing_key, **queue_options)
    queue(conn.default_channel).declare()
    return queue


def test_priority_then_arrival_order(connect):
    conn = connect()
    queue = _declare(conn)
    producer = Producer(conn.default_channel)
    for n, priority in enumerate([0, 5, 9, 5, 0, 9]):
        producer.publish({"n": n}, exchange="jobs_ex", routing_key="jobs", priority=priority)
    got = []
    while (message := queue(conn.default_channel).get()) is not None:
        got.append(message.payload["n"])
        message.ack()
    assert got == [2, 5, 1, 3, 0, 4]


def test_dequeue_is_an_index_scan_on_a_large_table(connect, pg_url):
    conn = connect()
    _declare(conn)
    _scalar(
        pg_url,
        "INSERT INTO broker_message (queue, rank, payload) SELECT 'q' || (g % 20), g % 10, '{}'"
        " FROM generate_series(1, 60000) g",
    )
    _scalar(pg_url, "ANALYZE broker_message")
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as db:
        # The transport's own dequeue statement (EXPLAIN plans it without running it).
        explain = sa.text("EXPLAIN " + sql.LEASE.text)
        params = {"owner": "w@host", "lease": 60, "queue": "q3", "limit": 24}
        plan = "\n".join(row[0] for row in db.execute(explain, params))
    engine.dispose()
    assert "Index Scan using ix_broker_message_ready" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_ack_deletes_reject_releases_or_deletes(connect, pg_url):
    conn = connect()
    queue = _declare(conn)
    producer = Producer(conn.default_channel)
    for n in range(3):
        producer.publish({"n": n}, exchange="jobs_ex", routing_key="jobs")
    bound = queue(conn.default_channel)
    first, second, third = bound.get(), bound.get(), bound.get()
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message WHERE leased_until IS NOT NULL") == 3
    first.ack()
    second.reject()
    third.requeue()
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message") == 1
    again = bound.get()
    assert again.payload == {"n": 2} and again.delivery_info.get("redelivered") is True
    again.ack()
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message") == 0


def test_a_dead_consumers_lease_expires_and_the_message_comes_back(connect, broker_url, pg_url):
    conn = connect()
    _declare(conn)
    Producer(conn.default_channel).publish({"n": 1}, exchange="jobs_ex", routing_key="jobs")
    # A consumer that leases the message and then vanishes without a word (no keeper runs).
    _scalar(
        pg_url,
        "UPDATE broker_message SET owner = 'dead', leased_until = now() + interval '0.5 second'",
    )
    assert Queue("jobs")(conn.default_channel).get() is None
    time.sleep(0.7)
    assert clean_up_url(pg_url).released_leases == 1
    message = Queue("jobs")(conn.default_channel).get()
    assert message.payload == {"n": 1}
    message.ack()


def test_a_live_consumer_keeps_extending_its_lease(connect, pg_url):
    conn = connect(lease_seconds=1.0, heartbeat_interval=0.2)
    queue = _declare(conn)
    Producer(conn.default_channel).publish({"n": 1}, exchange="jobs_ex", routing_key="jobs")
    held = queue(conn.default_channel).get()
    other = connect()
    for _ in range(6):  # 3 s: three lease lengths
        time.sleep(0.5)
        clean_up_url(pg_url)
        assert Queue("jobs")(other.default_channel).get() is None
    held.ack()
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message") == 0


def test_closing_a_channel_releases_its_unacked_messages(connect, pg_url):
    conn = connect()
    _declare(conn)
    Producer(conn.default_channel).publish({"n": 1}, exchange="jobs_ex", routing_key="jobs")
    channel = conn.channel()
    assert Queue("jobs")(channel).get() is not None
    channel.close()
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message WHERE leased_until IS NULL") == 1


def test_bindings_are_shared_across_clients_for_fanout_topic_and_direct(connect):
    a, b = connect(), connect()
    fan = Exchange("bcast", "fanout")
    topic = Exchange("events", "topic")
    _declare(a, "fan.a", fan, "")
    _declare(b, "fan.b", fan, "")
    _declare(a, "topic.tasks", topic, "task.#")
    _declare(b, "topic.workers", topic, "worker.*")
    # A third client that never declared anything publishes through the shared tables.
    c = connect()
    producer = Producer(c.default_channel)
    producer.publish({"to": "all"}, exchange="bcast", routing_key="")
    producer.publish({"to": "task"}, exchange="events", routing_key="task.sent.now")
    producer.publish({"to": "worker"}, exchange="events", routing_key="worker.online")
    producer.publish({"to": "nobody"}, exchange="events", routing_key="worker.a.b")

    def drain(conn, name):
        out = []
        while (message := Queue(name)(conn.default_channel).get(no_ack=True)) is not None:
            out.append(message.payload["to"])
        return out

    assert drain(a, "fan.a") == ["all"] and drain(b, "fan.b") == ["all"]
    assert drain(a, "topic.tasks") == ["task"]
    assert drain(b, "topic.workers") == ["worker"]


def test_drain_events_wakes_on_notify_not_on_the_poll(connect):
    consumer_conn = connect(polling_interval=30.0)
    queue = _declare(consumer_conn)
    got = []

    def on_message(body, message):
        got.append(time.monotonic())
        message.ack()

    publisher = connect()

    def publish_later():
        time.sleep(0.3)
        Producer(publisher.default_channel).publish({}, exchange="jobs_ex", routing_key="jobs")

    with Consumer(consumer_conn.default_channel, [queue], callbacks=[on_message]):
        thread = threading.Thread(target=publish_later)
        start = time.monotonic()
        thread.start()
        consumer_conn.drain_events(timeout=10)
        thread.join()
    assert got and got[0] - start < 1.5


def test_a_consumer_runs_no_dequeue_for_another_queues_messages(connect, dequeues):
    consumer_conn = connect()  # the safety poll is 10 s away
    exchange = Exchange("wake", "direct")
    queue_a = _declare(consumer_conn, "wake.a", exchange, "a")
    _declare(consumer_conn, "wake.b", exchange, "b")
    producer = Producer(connect().default_channel)
    got = []
    with Consumer(consumer_conn.default_channel, [queue_a],
                  callbacks=[lambda body, message: (got.append(body), message.ack())]):
        with pytest.raises(TimeoutError):
            consumer_conn.drain_events(timeout=0.3)  # the first look at queue a
        with dequeues(consumer_conn) as fetched:
            for n in range(5):
                producer.publish({"n": n}, exchange="wake", routing_key="b")
            with pytest.raises(TimeoutError):
                consumer_conn.drain_events(timeout=1.0)
            assert fetched == [], "woken by queue b's messages or by the end of a short drain"
            producer.publish({"n": "a"}, exchange="wake", routing_key="a")
            consumer_conn.drain_events(timeout=5)
        assert got == [{"n": "a"}] and fetched == ["wake.a"]


def test_queues_of_gone_consumers_and_expired_messages_are_swept(connect, pg_url):
    conn = connect()
    _declare(conn, "reply.x", Exchange("reply", "direct"), "x", expires=0.5)
    _declare(conn, "short", Exchange("short_ex", "direct"), "s", message_ttl=0.3)
    producer = Producer(conn.default_channel)
    producer.publish({}, exchange="reply", routing_key="x")
    producer.publish({}, exchange="short_ex", routing_key="s")
    time.sleep(0.8)
    result = clean_up_url(pg_url)
    assert result.expired_queues == ("reply.x",)
    assert result.expired_messages == 1
    assert _scalar(pg_url, "SELECT count(*) FROM broker_message") == 0
    assert _scalar(pg_url, "SELECT count(*) FROM broker_binding WHERE queue = 'reply.x'") == 0


def test_a_consumed_queue_is_kept_alive_by_its_consumer(connect, pg_url):
    conn = connect(heartbeat_interval=0.2)
    queue = _declare(conn, "alive", Exchange("alive_ex", "direct"), "a", expires=0.6)
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, message: None]):
        time.sleep(1.5)
        clean_up_url(pg_url)
        assert _scalar(pg_url, "SELECT count(*) FROM broker_queue WHERE name = 'alive'") == 1
        # Swept anyway (say the consumer stalled past x-expires): its keeper puts it back.
        _scalar(pg_url, "DELETE FROM broker_queue WHERE name = 'alive'")
        time.sleep(0.6)
        assert _scalar(pg_url, "SELECT count(*) FROM broker_binding WHERE queue = 'alive'") == 1
        Producer(conn.default_channel).publish({"n": 1}, exchange="alive_ex", routing_key="a")
        assert _scalar(pg_url, "SELECT count(*) FROM broker_message WHERE queue = 'alive'") == 1


def test_transactional_enqueue_commits_or_rolls_back_with_the_caller(connect, pg_url):
    from celery import Celery

    from qgpg import publish_in_transaction

    app = Celery("tx", broker=qgpg.broker_url(pg_url), set_as_current=False)
    app.conf.task_default_queue = "txq"
    conn = connect()
    _declare(conn, "txq", Exchange("txq", "direct"), "txq")
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as db:
        with db.begin():
            publish_in_transaction(db, app, "some.task", args=(1,))
            # Not visible to anyone else before the commit.
            assert Queue("txq")(conn.default_channel).get() is None
        tx = db.begin()
        publish_in_transaction(db, app, "some.task", args=(2,))
        tx.rollback()
    message = Queue("txq")(conn.default_channel).get()
    assert message.headers["task"] == "some.task" and message.payload[0] == [1]
    message.ack()
    assert Queue("txq")(conn.default_channel).get() is None
    engine.dispose()
    app.close()


def test_transactional_enqueue_refuses_a_broker_that_is_not_qgpg(pg_url):
    from celery import Celery

    from qgpg import publish_in_transaction
    from qgpg.errors import NotTransactional

    app = Celery("tx", broker="redis://127.0.0.1:6379/0", set_as_current=False)
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as db, pytest.raises(NotTransactional, match="qgpg"):
        publish_in_transaction(db, app, "some.task")
    engine.dispose()


def test_missing_tables_say_to_run_the_migration(pg_url):
    _scalar(pg_url, "DROP TABLE broker_message")
    with Connection(qgpg.broker_url(pg_url)) as conn, pytest.raises(
        TablesMissing, match="alembic upgrade head"
    ):
        conn.connect()



def test_the_clean_up_vacuums_a_message_table_full_of_dead_rows(pg_url):
    # The test server runs with autovacuum off; the clean-up must not depend on it.
    _scalar(pg_url, "INSERT INTO broker_message (queue, payload) SELECT 'q', '{}'"
                    " FROM generate_series(1, 6000)")
    _scalar(pg_url, "DELETE FROM broker_message")
    deadline = time.monotonic() + 10
    while not clean_up_url(pg_url).vacuumed:  # statistics reach pg_stat within a second or so
        assert time.monotonic() < deadline, "the clean-up never vacuumed broker_message"
        time.sleep(0.3)
    assert _scalar(pg_url, "SELECT n_dead_tup FROM pg_stat_user_tables"
                           " WHERE relname = 'broker_message'") < 6000


class _Loop:
    """The part of kombu's Hub a transport uses, run by hand: callbacks wait for ``run()``."""

    def __init__(self) -> None:
        self.soon: list = []
        self.readers: dict = {}

    def add_reader(self, fd, callback, *_args) -> None:
        self.readers[fd] = callback

    def remove_reader(self, fd) -> None:
        self.readers.pop(fd, None)

    def call_repeatedly(self, *_args) -> None:
        return None

    def call_later(self, _delay, callback) -> None:
        self.soon.append(callback)

    def call_soon(self, callback) -> None:
        self.soon.append(callback)

    @property
    def on_tick(self) -> set:
        return set()

    def run(self) -> None:
        while self.soon:
            self.soon.pop(0)()


def test_an_ack_at_the_prefetch_limit_starts_the_next_delivery(connect):
    """A worker of concurrency 1 with a backlog (no new message to wake it) must not wait for
    the safety poll after every task: acking frees the slot and schedules the next delivery."""
    conn = connect(polling_interval=3600.0)
    queue = _declare(conn)
    producer = Producer(connect().default_channel)
    for n in range(3):
        producer.publish({"n": n}, exchange="jobs_ex", routing_key="jobs")
    loop = _Loop()
    conn.transport.register_with_event_loop(conn.connection, loop)
    got = []
    channel = conn.default_channel
    channel.basic_qos(prefetch_size=0, prefetch_count=1)
    with Consumer(channel, [queue], callbacks=[lambda body, message: got.append(message)]):
        conn.transport._deliver_ready()  # the first round: one message, the slot is taken
        assert [m.payload["n"] for m in got] == [0]
        got[0].ack()
        loop.run()  # the round the ack scheduled, with no poll and no notification
        assert [m.payload["n"] for m in got] == [0, 1]
        got[1].ack()
        loop.run()
        assert [m.payload["n"] for m in got] == [0, 1, 2]
        got[2].ack()


def _readable(fd) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_a_delivery_in_a_tick_wakes_the_event_loop_at_once(connect):
    """kombu's hub runs its tick callbacks in no fixed order, after it has chosen how long to
    poll; Celery's prefork pool may have looked for jobs to write in its own callback already.
    A delivery in the transport's tick must make the next poll return at once (else a worker of
    concurrency 1 draining a backlog ran one task a second), and no delivery must not."""
    conn = connect(polling_interval=3600.0)
    queue = _declare(conn)
    Producer(connect().default_channel).publish({"n": 0}, exchange="jobs_ex", routing_key="jobs")
    loop = _Loop()
    conn.transport.register_with_event_loop(conn.connection, loop)
    nudge = conn.transport._nudge
    assert loop.readers[nudge.fileno()] == nudge.clear
    got = []
    channel = conn.default_channel
    channel.basic_qos(prefetch_size=0, prefetch_count=1)
    with Consumer(channel, [queue], callbacks=[lambda body, message: got.append(message)]):
        conn.transport._on_tick()
        assert len(got) == 1 and _readable(nudge.fileno())
        loop.readers[nudge.fileno()]()  # the loop woke and ran the reader
        assert not _readable(nudge.fileno())
        conn.transport._on_tick()  # the slot is taken: nothing delivered, no wake-up
        assert len(got) == 1 and not _readable(nudge.fileno())
        got[0].ack()
    conn.release()
    assert nudge.fileno() not in loop.readers


def test_a_no_ack_consumer_whose_callback_raises_loses_no_other_message(connect, pg_url):
    """A no_ack message leaves the queue when it is handed to a callback, not when its batch
    is fetched: the rest of a batch whose first callback raised stays for the next delivery
    (as on Redis; remote control and events consume with no_ack)."""
    conn = connect()
    queue = _declare(conn)
    producer = Producer(conn.default_channel)
    for n in range(5):
        producer.publish({"n": n}, exchange="jobs_ex", routing_key="jobs")
    got = []

    def crash_on_first(body, _message):
        got.append(body["n"])
        if len(got) == 1:
            raise RuntimeError("the callback failed")

    with Consumer(conn.default_channel, [queue], callbacks=[crash_on_first], no_ack=True):
        with pytest.raises(RuntimeError):
            conn.drain_events(timeout=2)
        while len(got) < 5:
            conn.drain_events(timeout=2)
    assert got == [0, 1, 2, 3, 4]
    wait_until_no_messages(pg_url)
