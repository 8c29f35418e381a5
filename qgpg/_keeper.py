"""The per-process keeper: lease extension, consumer-queue heartbeats and periodic clean-ups.

A thread rather than an event-loop timer, so leases stay alive whatever the consumer is doing:
a solo-pool worker running a long task, ``celery inspect`` or Flower in ``drain_events``.
One keeper per process and database; a forked child gets its own (keyed by pid).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from qgpg import sql
from qgpg.cleanup import clean_up, reap_leases
from qgpg.engine import engine_for

logger = logging.getLogger(__name__)

_keepers: dict[tuple[int, str], Keeper] = {}
_keepers_lock = threading.Lock()


def forget(url: str) -> None:
    """Stop this process's keeper for ``url`` (before its database is dropped)."""
    keeper = _keepers.pop((os.getpid(), url), None)
    if keeper is not None:
        keeper.stop()


def keeper_for(url: str, options: dict) -> Keeper:
    """Return this process's keeper for ``url`` (the first caller's options win)."""
    key = (os.getpid(), url)
    keeper = _keepers.get(key)
    if keeper is None:
        with _keepers_lock:
            keeper = _keepers.get(key)
            if keeper is None:
                keeper = _keepers[key] = Keeper(url, options)
    return keeper


class Keeper:
    def __init__(self, url: str, options: dict) -> None:
        self.url = url
        self.lease_seconds = float(options["lease_seconds"])
        self.interval = float(options["heartbeat_interval"])
        self.cleanup_interval = float(options["cleanup_interval"])
        self.engine_options = options.get("engine_options") or {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._acks: list[int] = []
        self._watched: dict[str, int] = {}
        self._queue_params: dict[str, dict] = {}
        self._bindings: dict[str, dict[tuple[str, str], dict]] = {}
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._last_clean_up = 0.0

    # -- bookkeeping (called by channels) -----------------------------------------------------
    def hold(self, row_id: int) -> None:
        with self._lock:
            self._held.add(row_id)
        self._ensure_thread()

    def ack_later(self, *row_ids: int) -> None:
        """Queue acked rows for deletion with the next fetch or keeper tick."""
        with self._lock:
            self._acks.extend(row_ids)

    def take_acks(self) -> list[int]:
        with self._lock:
            acks, self._acks = self._acks, []
        return acks

    def drop(self, row_ids) -> None:
        with self._lock:
            self._held.difference_update(row_ids)

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def watch(self, queue: str) -> None:
        with self._lock:
            self._watched[queue] = self._watched.get(queue, 0) + 1
        self._ensure_thread()

    def unwatch(self, queue: str) -> None:
        with self._lock:
            count = self._watched.get(queue, 0) - 1
            if count > 0:
                self._watched[queue] = count
            else:
                self._watched.pop(queue, None)
                self._queue_params.pop(queue, None)
                self._bindings.pop(queue, None)

    def remember_queue(self, queue: str, params: dict) -> None:
        with self._lock:
            self._queue_params[queue] = params

    def remember_binding(self, queue: str, params: dict) -> None:
        with self._lock:
            key = (params["exchange"], params["routing_key"])
            self._bindings.setdefault(queue, {})[key] = params

    def forget_binding(self, queue: str, exchange: str, routing_key: str) -> None:
        with self._lock:
            self._bindings.get(queue, {}).pop((exchange, routing_key), None)

    def forget_queue(self, queue: str) -> None:
        with self._lock:
            self._queue_params.pop(queue, None)
            self._bindings.pop(queue, None)

    # -- the thread -----------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="qgpg-keeper", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        """Tick while this process holds messages or consumes queues; then end the thread."""
        while True:
            try:
                self.tick()
            except Exception as err:  # the database may be restarting: try again next round
                logger.warning("broker keeper: %s", err)
            time.sleep(self.interval)
            with self._lock:
                if self._stopped or not (self._held or self._watched or self._acks):
                    self._thread = None
                    return

    def stop(self) -> None:
        """Stop for good (the database is going away)."""
        with self._lock:
            self._stopped = True

    def tick(self) -> None:
        """Extend held leases, refresh consumed queues, release expired leases, maybe clean up."""
        with self._lock:
            held = list(self._held)
            watched = list(self._watched)
        acks = self.take_acks()
        with engine_for(self.url, self.engine_options).connect() as conn:
            if acks:
                try:
                    conn.execute(sql.ACK, {"ids": acks})
                except BaseException:
                    self.ack_later(*acks)
                    raise
            if held:
                conn.execute(
                    sql.EXTEND, {"ids": held, "owner": self.owner, "lease": self.lease_seconds}
                )
            if watched:
                alive = {row[0] for row in conn.execute(sql.TOUCH_QUEUES, {"names": watched})}
                for queue in set(watched) - alive:
                    self._redeclare(conn, queue)
            if time.monotonic() - self._last_clean_up >= self.cleanup_interval:
                self._last_clean_up = time.monotonic()
                clean_up(conn)
            else:
                reap_leases(conn)

    def _redeclare(self, conn, queue: str) -> None:
        """Put back a consumed queue that was swept (its consumer stalled past x-expires).

        Only queues with an expiry are ever swept, so only those are declared again; one that
        was deleted on purpose while this tick ran comes back with its expiry and goes again.
        """
        with self._lock:
            params = self._queue_params.get(queue)
            if queue not in self._watched or not params or params.get("expires_ms") is None:
                return
            bindings = list(self._bindings.get(queue, {}).values())
        logger.warning("broker: queue %s was swept while consumed; declaring it again", queue)
        conn.execute(sql.DECLARE_QUEUE, params)
        for binding in bindings:
            conn.execute(sql.BIND, binding)
