"""The series inventory (every stored symbol/timeframe with first, last and count), kept per process.

Every job submission checks its symbol and timeframe against the inventory, and on InfluxDB
``store.symbols()`` is three aggregates over every stored candle: its cost grows with the data.
The store's ``inventory_stamp()`` changes on any write or delete, whoever makes it, and costs one
small query whatever the number of candles; so the inventory is recomputed only when the stamp
changed, and the stamp itself is asked at most once per ``max_age`` seconds. Under load most
submissions then cost no query at all.

Staleness: a write or delete made by another process (the CLI's import, another web worker, another
host) shows in every ``series()`` call that starts ``max_age`` seconds or more after it finished. A
process that writes through its own store calls ``invalidate()`` afterwards and sees it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from quantgrid.candles.errors import CandleStoreUnavailable
from quantgrid.candles.store import CandleStore, SeriesInfo

logger = logging.getLogger(__name__)


class Inventory:
    """Serve ``store.symbols()`` from memory until the store's inventory stamp changes; thread-safe.

    One lock serialises the checks: when the stamp moves, one thread recomputes and the others
    wait for its answer instead of each sending the same aggregates.
    """

    def __init__(
        self, store: CandleStore, max_age: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0 seconds, not {max_age!r}")
        self.store = store
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._series: list[SeriesInfo] | None = None
        self._stamp: str | None = None  # the stamp _series was computed under; None: recompute
        self._checked: float | None = None  # when the stamp was last asked; None: ask now

    def series(self) -> list[SeriesInfo]:
        """Return every stored series, as ``store.symbols()`` does, at most ``max_age`` seconds stale.

        While the store is unavailable the last inventory is served (and the store asked again
        after ``max_age``, not on every call); with none yet, ``CandleStoreUnavailable`` is raised.
        """
        with self._lock:
            now = self._clock()
            if self._checked is None or now - self._checked >= self.max_age:
                self._refresh()
                self._checked = now
            return list(self._series)

    def invalidate(self) -> None:
        """Recompute on the next ``series()``: call after writing or deleting candles in this process."""
        with self._lock:
            self._stamp = None
            self._checked = None

    def _refresh(self) -> None:
        try:
            # The stamp before the series: a write landing between the two leaves an old stamp
            # beside new series, which costs one more recompute later, never a stale inventory.
            stamp = self.store.inventory_stamp()
            if stamp != self._stamp:
                self._series = self.store.symbols()
                self._stamp = stamp
        except CandleStoreUnavailable as err:
            if self._series is None:
                raise
            # Refusing every submission for want of a fresh list would be worse than a list
            # that misses at most what was imported during the outage.
            logger.warning("candle store unavailable; serving the last known series inventory: %s", err)
