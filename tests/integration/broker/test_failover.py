"""A broker URL list fails over as on Redis and AMQP: when the first server goes, kombu switches
to the next URL and keeps the qgpg transport. Here the second URL is a streaming standby that is
promoted after the master stops (tests/support/pgcluster.py: real servers on their own ports)."""

from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Producer, Queue

import qgpg
from qgpg.transport import Transport
from tests.support import pg
from tests.support.pgcluster import PgCluster

pytestmark = pytest.mark.integration

QUEUE = Queue("jobs", Exchange("jobs_ex", "direct"), routing_key="jobs")


@pytest.fixture
def servers():
    primary = PgCluster.create()
    standby = primary.add_replica()
    url = primary.create_database("broker")
    pg.migrate(url)
    standby.wait_for_replay(primary.current_lsn())
    yield primary, standby
    primary.cleanup()


def _urls(primary, standby, form):
    first, second = (qgpg.broker_url(s.url("broker")) for s in (primary, standby))
    if form == "qgpg-scheme":  # qgpg://host/db names psycopg2 itself
        first, second = (u.replace("qgpg+postgresql+psycopg2://", "qgpg://") for u in (first, second))
    return first, second


@pytest.mark.parametrize("form", ["semicolons", "list", "alternates", "qgpg-scheme"])
def test_a_url_list_fails_over_to_the_promoted_standby(servers, form):
    primary, standby = servers
    first, second = _urls(primary, standby, form)
    if form == "list":
        conn = Connection([first, second])
    elif form == "alternates":
        conn = Connection(first, alternates=[second])
    else:
        conn = Connection(f"{first};{second}")
    with conn:
        Producer(conn.default_channel).publish({"n": 1}, exchange=QUEUE.exchange,
                                               routing_key="jobs", declare=[QUEUE])  # fmt: skip
        assert QUEUE(conn.default_channel).get(no_ack=True).payload == {"n": 1}

        primary.stop()
        standby.scalar("SELECT pg_promote()")
        producer = Producer(conn)
        publish = conn.ensure(producer, producer.publish, max_retries=5, interval_start=0.2)
        publish({"n": 2}, exchange=QUEUE.exchange, routing_key="jobs")

        assert isinstance(conn.transport, Transport)
        assert conn.transport.url.endswith(f":{standby.port}/broker"), conn.transport.url
        message = QUEUE(conn.default_channel).get(no_ack=True)
        assert message is not None and message.payload == {"n": 2}
