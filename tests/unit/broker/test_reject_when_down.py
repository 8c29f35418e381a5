"""Rejecting a message while the database is down must not leave it leased by this process for
ever: the keeper stops extending its lease, so it comes back when the lease runs out."""

from __future__ import annotations

import psycopg2
import pytest

from qgpg.transport import QoS, Transport


class _Keeper:
    def __init__(self) -> None:
        self.held = {5}

    def hold(self, row_id: int) -> None:
        self.held.add(row_id)

    def drop(self, row_ids) -> None:
        self.held.difference_update(row_ids)


class _Channel:
    connection_errors = Transport.connection_errors
    do_restore = False  # kombu's atexit restore: nothing to restore here
    _dirty = frozenset()  # no queue is waiting for a free prefetch slot

    def __init__(self) -> None:
        self.keeper = _Keeper()
        self.statements = 0

    def _execute(self, statement, params=None):
        self.statements += 1
        raise psycopg2.OperationalError("connection to server failed: Connection refused")


@pytest.mark.parametrize("requeue", [True, False])
def test_a_reject_that_cannot_reach_the_database_lets_the_lease_run_out(requeue):
    channel = _Channel()
    qos = QoS(channel, prefetch_count=1)
    qos.reject("5.1", requeue=requeue)  # no exception: the worker's consumer carries on
    assert channel.statements == 1
    assert channel.keeper.held == set(), "the keeper would extend the lease for ever"
