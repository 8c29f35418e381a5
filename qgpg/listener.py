"""The LISTEN side of the broker: one autocommit psycopg2 connection per client.

A queue's channel (``notify_channel``) carries two kinds of notification: an empty payload says
a row arrived (sent by the trigger), a payload is a whole transient message (sent by a fanout
or topic publish, see ``sql.BROADCAST_FANOUT``).
"""

from __future__ import annotations

import contextlib
import os
import select

import psycopg2

from qgpg.engine import engine_for
from qgpg.schema import notify_channel


class Listener:
    """A dedicated autocommit psycopg2 connection that LISTENs on the consumed queues."""

    def __init__(self, url: str) -> None:
        engine = engine_for(url)
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        cparams = {
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            **cparams,
        }
        self.pid = os.getpid()
        self.conn = psycopg2.connect(*cargs, **cparams)
        self.conn.autocommit = True
        self._queues: dict[str, str] = {}  # notify channel -> queue

    def fileno(self) -> int:
        return self.conn.fileno()

    def listen(self, queue: str) -> None:
        channel = notify_channel(queue)
        if channel not in self._queues:
            with self.conn.cursor() as cur:
                cur.execute(f'LISTEN "{channel}"')
            self._queues[channel] = queue

    def unlisten(self, queue: str) -> None:
        channel = notify_channel(queue)
        if self._queues.pop(channel, None) is not None:
            with self.conn.cursor() as cur:
                cur.execute(f'UNLISTEN "{channel}"')

    def drain(self) -> tuple[set[str], list[tuple[str, str]]]:
        """Read pending notifications.

        Return the queues that got a row (an empty payload: a wake-up) and the transient
        messages that came as payloads, as (queue, payload) in arrival order.
        """
        self.conn.poll()
        woken: set[str] = set()
        messages: list[tuple[str, str]] = []
        for notify in self.conn.notifies:
            queue = self._queues.get(notify.channel)
            if queue is None:
                continue
            if notify.payload:
                messages.append((queue, notify.payload))
            else:
                woken.add(queue)
        self.conn.notifies.clear()
        return woken, messages

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.conn], [], [], max(timeout, 0))
        return bool(readable)

    def close(self) -> None:
        # Closing a connection inherited over fork would end the parent's session.
        if self.pid == os.getpid() and not self.conn.closed:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
