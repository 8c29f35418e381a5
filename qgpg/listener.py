"""The LISTEN side of the broker's wake-ups: one autocommit psycopg2 connection per client."""

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

    def drain(self) -> set[str]:
        """Read pending notifications; return the queues they were for."""
        self.conn.poll()
        notified = {self._queues.get(n.channel) for n in self.conn.notifies}
        self.conn.notifies.clear()
        notified.discard(None)
        return notified

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.conn], [], [], max(timeout, 0))
        return bool(readable)

    def close(self) -> None:
        # Closing a connection inherited over fork would end the parent's session.
        if self.pid == os.getpid() and not self.conn.closed:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
