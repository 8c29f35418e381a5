"""What kombu's own integration suite asks of a transport, asserted on qgpg.

kombu runs the classes of its ``t/integration/common.py`` against each transport it ships:
``BasicFunctionality``, ``BaseExchangeTypes``, ``BasePriority``, ``BaseMessage``,
``BaseTimeToLive`` and ``BaseFailover``. These tests check the same behaviours in this suite's
terms; each names the kombu test it mirrors. ``BaseFailover`` is test_failover.py (a real
standby promoted under a URL list).

Where qgpg and Redis differ, the test says which way it goes (docs/broker.md, "kombu features"):
priorities run in AMQP's order, higher first, over ten levels (``BasePriority`` as kombu runs it
for py-amqp; Redis reverses it and folds levels into ``priority_steps``); message TTLs are
honoured (Redis ignores them, so kombu skips ``BaseTimeToLive`` there); a publish does not keep
an ``x-expires`` queue alive (as on RabbitMQ; Redis renews it on every put).
"""

from __future__ import annotations

import socket
import time
from contextlib import closing

import pytest
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.exceptions import OperationalError

import qgpg
from qgpg import clean_up_url
from qgpg.transport import forget
from tests.integration.broker.conftest import wait_until_no_messages
from tests.support import pg

LOW, HIGH = 3, 6  # BasePriority's levels; under Redis's order the two swap


def _count(url: str) -> int:
    """Return how many messages are stored, leased or not."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM broker_message")).scalar()
    finally:
        engine.dispose()


def _consume(conn, queue, expect, *, ack=True, settle=0.2, accept=("pickle", "json")):
    """Consume ``queue`` until ``expect`` messages came and then ``settle`` s more; return them all."""
    got = []

    def on_message(_body, message):
        got.append(message)
        if ack:
            message.ack()

    with Consumer(conn.default_channel, [queue], callbacks=[on_message], accept=list(accept)):
        deadline = time.monotonic() + 5
        while len(got) < expect and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=deadline - time.monotonic())
            except TimeoutError:
                break
        end = time.monotonic() + settle
        while (left := end - time.monotonic()) > 0:
            try:
                conn.drain_events(timeout=left)
            except TimeoutError:
                break
    return got


def _get_all(conn, queue) -> list:
    out = []
    while (message := queue(conn.default_channel).get(no_ack=True)) is not None:
        out.append(message.payload)
    return out


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- connections: BasicFunctionality ----------------------------------------------------------
def test_a_connection_closes_and_opens_again_and_still_hears_notifications(connect):
    """test_connect, test_default_channel_autoconnect, test_channel, test_default_channel."""
    conn = connect()
    assert conn.connection is not None and conn.channel() is not None
    conn.close()
    assert conn.connection is None
    assert conn.connect() and conn.connection is not None
    conn.close()
    assert conn.default_channel is not None  # connects on demand
    assert conn.connection is not None
    # The reopened connection LISTENs again: with the safety poll 10 s away, only the
    # notification of the publish can wake the drain in time.
    queue = Queue("again", routing_key="again")
    queue(conn.default_channel).declare()
    got = []
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, m: got.append(body)],
                  no_ack=True):  # fmt: skip
        with pytest.raises(TimeoutError):
            conn.drain_events(timeout=0.2)
        Producer(connect().default_channel).publish({"n": 1}, routing_key="again")
        conn.drain_events(timeout=3)
    assert got == [{"n": 1}]


def test_an_unreachable_server_raises_a_connection_error_of_the_transport():
    """test_failed_connect, test_failed_connection, test_failed_channel (all three go through
    ``Connection.connect``) and Redis's test_failed_connection__ConnectionError: the error is
    one of the transport's ``connection_errors``, the ones kombu and Celery retry."""
    url = qgpg.broker_url(f"postgresql://root@127.0.0.1:{_unused_port()}/broker")
    conn = Connection(url)
    try:
        with pytest.raises(Exception) as raised:
            conn.connect()  # kombu retries once, 2 s later
        assert isinstance(raised.value, conn.connection_errors), raised.value
    finally:
        forget(url.split("+", 1)[1])


@pytest.mark.parametrize("where", ["unreachable server", "missing database"])
def test_default_channel_gives_up_after_max_retries(where):
    """test_failed_default_channel."""
    if where == "unreachable server":
        database_url = f"postgresql://root@127.0.0.1:{_unused_port()}/broker"
    else:
        database_url = pg.url_for(pg.unique_name("qg_missing"))
    url = qgpg.broker_url(database_url)
    conn = Connection(url, transport_options={"max_retries": 1, "interval_start": 0,
                                              "interval_step": 0})  # fmt: skip
    try:
        with pytest.raises(OperationalError):
            _ = conn.default_channel  # the property connects
    finally:
        conn.release()
        forget(url.split("+", 1)[1])


def test_a_published_message_is_consumed_with_its_serializer_and_route(connect, pg_url):
    """test_publish_consume."""
    conn = connect()
    queue = Queue("test", routing_key="test")
    with conn.channel() as channel:
        Producer(channel).publish({"hello": "world"}, retry=True, exchange=queue.exchange,
                                  routing_key="test", declare=[queue], serializer="pickle")  # fmt: skip
    [message] = _consume(conn, queue, 1, accept=["pickle"])
    assert message.payload == {"hello": "world"}
    assert message.content_type == "application/x-python-serialize"
    assert message.delivery_info["exchange"] == ""
    assert message.delivery_info["routing_key"] == "test"
    assert not message.delivery_info.get("redelivered")
    assert _count(pg_url) == 0  # the ack deleted it


def test_draining_an_empty_queue_times_out_without_calling_back(connect):
    """test_consume_empty_queue (its socket.timeout is TimeoutError)."""
    conn = connect()
    queue = Queue("test_empty", routing_key="test_empty")
    got = []
    with Consumer(conn.default_channel, [queue], callbacks=[lambda body, m: got.append(body)]):
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            conn.drain_events(timeout=0.3)
    assert got == [] and time.monotonic() - start >= 0.3


@pytest.mark.parametrize("kind", ["SimpleQueue", "SimpleBuffer"])
def test_a_simple_queue_or_buffer_keeps_headers_and_content_type(connect, pg_url, kind):
    """test_simple_queue_publish_consume, test_simple_buffer_publish_consume."""
    conn = connect()
    with closing(getattr(conn, kind)(f"simple_{kind}")) as simple:
        simple.put({"Hello": "World"}, headers={"k1": "v1"})
        message = simple.get(timeout=1)
        assert message.payload == {"Hello": "World"}
        assert message.content_type == "application/json"
        assert message.content_encoding == "utf-8"
        assert message.headers == {"k1": "v1"}
        message.ack()  # a no-op for the buffer, which consumes with no_ack
        with pytest.raises(simple.Empty):
            simple.get_nowait()
    wait_until_no_messages(pg_url)


# -- exchange types: BaseExchangeTypes ------------------------------------------------------------
def test_a_direct_exchange_routes_by_the_exact_routing_key(connect, pg_url):
    """test_direct, test_direct_routing_keys: an unmatched key reaches no queue."""
    conn = connect()
    exchange = Exchange("test_rk_direct", "direct")
    queues = {"": Queue("direct0", exchange), "d1": Queue("rk_direct1", exchange, routing_key="d1"),
              "d2": Queue("rk_direct2", exchange, routing_key="d2")}  # fmt: skip
    producer = Producer(conn.default_channel, exchange=exchange)
    for key in ("d1", "", "d3"):
        producer.publish({"key": key}, routing_key=key, declare=list(queues.values()),
                         serializer="pickle")  # fmt: skip
    assert _count(pg_url) == 2  # d3 left no row behind
    got = {key: [m.payload["key"] for m in _consume(conn, queue, 1 if key != "d2" else 0)]
           for key, queue in queues.items()}  # fmt: skip
    assert got == {"": [""], "d1": ["d1"], "d2": []}


def test_a_fanout_exchange_gives_every_bound_queue_a_copy(connect, pg_url):
    """test_fanout. The queues are durable, so each copy is a row and waits for its consumer
    (on Redis a fanout reaches only the consumers subscribed at that moment; transient
    messages to consumer-lifetime queues do the same here: test_transient.py)."""
    conn = connect()
    exchange = Exchange("test_fanout", "fanout")
    queues = [Queue("fanout1", exchange), Queue("fanout2", exchange)]
    Producer(conn.default_channel, exchange=exchange).publish(
        {"hello": "world"}, routing_key="ignored", declare=list(queues), serializer="pickle")
    for queue in queues:
        assert [m.payload for m in _consume(conn, queue, 1)] == [{"hello": "world"}]
    assert _count(pg_url) == 0


# binding key -> the routing keys (of ROUTING_KEYS) it takes. kombu's patterns make "#" one or
# more words, not AMQP's zero or more ("a.#" misses "a"); Redis routes these the same way.
TOPIC_BINDINGS = {
    "a.*": ["a.b", "a.b-c_d"],
    "a.#": ["a.b", "a.b-c_d", "a.b.c"],
    "#": ["a", "a.b", "a.b-c_d", "a.b.c", "q.z", "x.b-c_d", "z"],
    "a": ["a"],
    "*.b-c_d": ["a.b-c_d", "x.b-c_d"],
    "#.z": ["q.z"],
}
ROUTING_KEYS = ["a", "a.b", "a.b.c", "x.b-c_d", "z", "q.z", "a.b-c_d"]


def test_a_topic_exchange_matches_words_with_star_and_hash(connect):
    """test_topic, with "#" and escaped characters too (the patterns run as PostgreSQL regexes)."""
    conn = connect()
    exchange = Exchange("test_topic", "topic")
    queues = {key: Queue(f"topic{n}", exchange, routing_key=key)
              for n, key in enumerate(TOPIC_BINDINGS)}  # fmt: skip
    producer = Producer(conn.default_channel, exchange=exchange)
    for key in ROUTING_KEYS:
        producer.publish({"key": key}, routing_key=key, declare=list(queues.values()))
    got = {key: sorted(body["key"] for body in _get_all(conn, queue))
           for key, queue in queues.items()}  # fmt: skip
    assert got == TOPIC_BINDINGS


@pytest.mark.parametrize("kind", ["direct", "fanout", "topic"])
def test_a_message_to_an_exchange_without_queues_is_dropped_quietly(connect, pg_url, kind):
    """test_publish_empty_exchange (no UndeliverableWarning either: warnings fail the suite)."""
    conn = connect()
    Producer(conn.default_channel, exchange=Exchange(f"empty_{kind}", kind)).publish(
        {"hello": "world"}, routing_key="t.1", serializer="pickle")
    assert _count(pg_url) == 0


# -- priorities: BasePriority ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["consumer", "SimpleQueue", "SimpleBuffer"])
def test_a_higher_priority_overtakes_earlier_lower_ones(connect, path):
    """test_publish_consume, test_simple_queue_publish_consume, test_simple_buffer_publish_consume
    in kombu's default (AMQP) order. On Redis the lower number goes first instead."""
    conn = connect()
    sent = [("first", LOW), ("second", HIGH), ("third", LOW)]
    if path == "consumer":
        queue = Queue("priority_test", routing_key="priority_test", max_priority=10)
        producer = Producer(conn.default_channel)
        for name, priority in sent:
            producer.publish({"msg": name}, retry=True, exchange=queue.exchange,
                             routing_key=queue.routing_key, declare=[queue], serializer="pickle",
                             priority=priority)  # fmt: skip
        got = [m.payload["msg"] for m in _consume(conn, queue, len(sent))]
    else:
        with closing(getattr(conn, path)("priority_simple", queue_opts={"max_priority": 10})) as simple:
            for name, priority in sent:
                simple.put({"msg": name}, headers={"k1": "v1"}, priority=priority)
            got = []
            for _ in sent:
                message = simple.get(timeout=1)
                message.ack()
                got.append(message.payload["msg"])
    assert got == ["second", "first", "third"]


def test_requeued_messages_keep_their_priority(connect):
    """test_publish_requeue_consume (Redis needed a fix for this: kombu #2026)."""
    conn = connect()
    queue = Queue("priority_requeue_test", routing_key="priority_requeue_test", max_priority=10)
    producer = Producer(conn.default_channel)

    def publish(name, priority):
        producer.publish({"msg": name}, exchange=queue.exchange, routing_key=queue.routing_key,
                         declare=[queue], serializer="pickle", priority=priority)  # fmt: skip

    for name, priority in [("first", LOW), ("second", HIGH), ("third", LOW)]:
        publish(name, priority)
    held = _consume(conn, queue, 3, ack=False)
    assert [m.payload["msg"] for m in held] == ["second", "first", "third"]
    for message in held:
        message.requeue()
    publish("fourth", 9)
    again = _consume(conn, queue, 4)
    assert [(m.payload["msg"], bool(m.delivery_info.get("redelivered"))) for m in again] == [
        ("fourth", False), ("second", True), ("first", True), ("third", True)]


def test_priorities_are_ten_levels_and_out_of_range_ones_are_clamped(connect):
    """kombu's virtual transports clamp to 0-9 as here; Redis then folds the levels into
    ``priority_steps`` (0, 3, 6, 9: 1 and 2 rank with 0), which qgpg does not."""
    conn = connect()
    queue = Queue("levels", routing_key="levels")
    producer = Producer(conn.default_channel)
    for name, priority in [("zero", 0), ("one", 1), ("two", 2), ("nine", 9), ("above", 42),
                           ("below", -3)]:  # fmt: skip
        producer.publish({"msg": name}, routing_key="levels", declare=[queue], priority=priority)
    assert [body["msg"] for body in _get_all(conn, queue)] == [
        "nine", "above", "two", "one", "zero", "below"]


# -- settling a message: BaseMessage --------------------------------------------------------------
@pytest.mark.parametrize("settle, left", [
    ("ack", [2]), ("reject", [2]), ("reject_requeue", [1, 2]), ("requeue", [1, 2])])
def test_ack_and_reject_remove_a_message_and_requeue_puts_it_back_in_place(connect, pg_url,
                                                                           settle, left):
    """test_ack, test_reject_no_requeue, test_reject_requeue, test_requeue. A requeued message
    comes back ahead of later ones, with its headers (Redis appends it at the tail)."""
    conn = connect()
    with closing(conn.SimpleQueue(f"test_{settle}")) as queue:
        queue.put({"n": 1}, headers={"k1": "v1"})
        queue.put({"n": 2})
        message = queue.get_nowait()
        {"ack": message.ack, "reject": lambda: message.reject(requeue=False),
         "reject_requeue": lambda: message.reject(requeue=True),
         "requeue": message.requeue}[settle]()  # fmt: skip
        rest = []
        while True:
            try:
                following = queue.get_nowait()
            except queue.Empty:
                break
            if following.payload == {"n": 1}:
                assert following.body == message.body and following.headers == {"k1": "v1"}
                assert following.delivery_info["redelivered"] is True
            following.ack()
            rest.append(following.payload["n"])
    assert rest == left
    assert _count(pg_url) == 0


def test_properties_headers_and_a_binary_body_survive_the_round_trip(connect):
    """The properties BaseMessage and the Celery protocol rely on, and a body that is not text."""
    conn = connect()
    queue = Queue("props", routing_key="props")
    Producer(conn.default_channel).publish(
        b"\x00\xff\x10bin", routing_key="props", declare=[queue],
        content_type="application/octet-stream", content_encoding="binary",
        headers={"nested": {"a": [1, 2]}, "u": "é"}, correlation_id="cid", reply_to="replies",
        priority=4)  # fmt: skip
    [message] = _consume(conn, queue, 1, accept=["application/octet-stream"])
    assert message.body == b"\x00\xff\x10bin" and message.payload == b"\x00\xff\x10bin"
    assert message.content_type == "application/octet-stream"
    assert message.headers == {"nested": {"a": [1, 2]}, "u": "é"}
    assert message.properties["correlation_id"] == "cid"
    assert message.properties["reply_to"] == "replies"
    assert message.properties["priority"] == 4


# -- time to live: BaseTimeToLive (kombu does not run it on Redis, which ignores expiration) ------
@pytest.mark.parametrize("path", ["consumer", "SimpleQueue", "SimpleBuffer"])
def test_a_message_past_its_expiration_is_not_delivered(connect, path):
    """test_publish_consume, test_simple_queue_publish_consume, test_simple_buffer_publish_consume
    (with 0.3 s for their 2 s); the message sent without one still comes."""
    conn = connect()
    if path == "consumer":
        queue = Queue("ttl_test", routing_key="ttl_test")
        producer = Producer(conn.default_channel)
        producer.publish({"n": "short"}, routing_key="ttl_test", declare=[queue], expiration=0.3)
        producer.publish({"n": "kept"}, routing_key="ttl_test", declare=[queue])
        time.sleep(0.5)
        assert [m.payload for m in _consume(conn, queue, 1)] == [{"n": "kept"}]
    else:
        with closing(getattr(conn, path)(f"ttl_{path}")) as simple:
            simple.put({"n": "short"}, headers={"k1": "v1"}, expiration=0.3)
            simple.put({"n": "kept"})
            time.sleep(0.5)
            assert simple.get(timeout=1).payload == {"n": "kept"}
            with pytest.raises(simple.Empty):
                simple.get(timeout=0.3)


def test_a_queues_message_ttl_bounds_each_message_it_holds(connect):
    """x-message-ttl (``Queue(message_ttl=...)``), which Redis ignores: the shorter of it and a
    message's own expiration applies."""
    conn = connect()
    queue = Queue("ttl_queue", routing_key="ttl_queue", message_ttl=0.3)
    producer = Producer(conn.default_channel)
    producer.publish({"n": "plain"}, routing_key="ttl_queue", declare=[queue])
    producer.publish({"n": "longer"}, routing_key="ttl_queue", declare=[queue], expiration=60)
    time.sleep(0.5)
    producer.publish({"n": "fresh"}, routing_key="ttl_queue", declare=[queue])
    assert _get_all(conn, queue) == [{"n": "fresh"}]


# -- queue expiry: x-expires (Redis's test_RedisQueueExpiration) ----------------------------------
# A consumer keeps its queue alive (test_transport.py, test_a_consumed_queue_is_kept_alive_by_its_
# consumer) and an unused queue goes with its messages (test_queues_of_gone_consumers_and_...).
def test_publishing_alone_does_not_keep_an_expiring_queue(connect, pg_url):
    """As on RabbitMQ, unlike Redis (which renews the expiry on every put): x-expires counts
    consumers, declarations and gets, so a gone consumer's queue goes even while messages keep
    arriving, and they go with it, whatever their priority."""
    conn = connect()
    queue = Queue("unread", Exchange("unread_ex", "direct"), routing_key="u", expires=0.5)
    queue(conn.default_channel).declare()
    producer = Producer(conn.default_channel)
    for priority in (0, 3, 6, 9):
        producer.publish({"p": priority}, exchange="unread_ex", routing_key="u", priority=priority)
        time.sleep(0.2)
    assert clean_up_url(pg_url).expired_queues == ("unread",)
    assert _count(pg_url) == 0


def test_a_queue_polled_with_get_outlives_its_expiry(connect, pg_url):
    """As on RabbitMQ (a basic.get is use) and Redis (test_expiration_gets_reset_on_get): a
    client that polls an x-expires queue with ``Queue.get()``, even finding it empty, keeps the
    queue, its binding and its messages."""
    conn = connect()
    queue = Queue("polled", Exchange("polled_ex", "direct"), routing_key="p", expires=0.5)
    bound = queue(conn.default_channel)
    bound.declare()
    producer = Producer(conn.default_channel)
    for n in range(2):
        producer.publish({"n": n}, exchange="polled_ex", routing_key="p")
    got = []
    for _ in range(6):  # 1.2 s, more than twice the expiry
        time.sleep(0.2)
        assert clean_up_url(pg_url).expired_queues == ()
        message = bound.get(no_ack=True)
        got.append(message and message.payload["n"])
    producer.publish({"n": 2}, exchange="polled_ex", routing_key="p")
    assert got == [0, 1, None, None, None, None]
    assert _get_all(conn, queue) == [{"n": 2}]
