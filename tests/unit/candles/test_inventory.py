"""The inventory cache: how often it asks the store, when it recomputes, and what it serves in an outage."""

from __future__ import annotations

import logging
import threading

import pytest

from quantgrid.candles.errors import CandleStoreUnavailable
from quantgrid.candles.inventory import Inventory
from quantgrid.candles.store import SeriesInfo

BTC = SeriesInfo("BTCUSDT", "1m", 0, 60, 2)
ETH = SeriesInfo("ETHUSDT", "1m", 0, 120, 3)


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """Stands in for a candle store: counts the two calls an inventory makes; ``down`` fails both."""

    def __init__(self, series: list[SeriesInfo]) -> None:
        self.series = series
        self.stamp = "s0"
        self.down = False
        self.stamps_asked = 0
        self.symbols_asked = 0

    def inventory_stamp(self) -> str:
        self.stamps_asked += 1
        if self.down:
            raise CandleStoreUnavailable("InfluxDB at http://127.0.0.1:1 is unavailable")
        return self.stamp

    def symbols(self) -> list[SeriesInfo]:
        self.symbols_asked += 1
        if self.down:
            raise CandleStoreUnavailable("InfluxDB at http://127.0.0.1:1 is unavailable")
        return list(self.series)

    def write(self, info: SeriesInfo) -> None:
        """What a write does to a real store: new series and a new stamp."""
        self.series.append(info)
        self.stamp = f"s{len(self.series)}"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store():
    return CountingStore([BTC])


@pytest.fixture
def inventory(store, clock):
    return Inventory(store, max_age=2.0, clock=clock)


def test_the_stamp_is_asked_at_most_once_per_max_age(store, clock, inventory):
    for _ in range(5):
        assert inventory.series() == [BTC]
    assert (store.stamps_asked, store.symbols_asked) == (1, 1)
    clock.now += 1.999
    inventory.series()
    assert store.stamps_asked == 1
    clock.now += 0.001
    inventory.series()
    inventory.series()
    assert store.stamps_asked == 2


def test_symbols_are_recomputed_only_when_the_stamp_changed(store, clock, inventory):
    inventory.series()
    clock.now += 10
    assert inventory.series() == [BTC]
    assert (store.stamps_asked, store.symbols_asked) == (2, 1)
    store.write(ETH)
    assert inventory.series() == [BTC]  # within max_age of the last check: not asked
    clock.now += 2
    assert inventory.series() == [BTC, ETH]
    assert (store.stamps_asked, store.symbols_asked) == (3, 2)


def test_what_the_store_holds_is_read_through_the_stamp_only(store, clock, inventory):
    inventory.series()
    store.series.append(ETH)  # changed without a new stamp: nothing tells the inventory
    clock.now += 10
    assert inventory.series() == [BTC]


def test_invalidate_recomputes_on_the_next_call_at_once(store, inventory):
    inventory.series()
    store.write(ETH)
    inventory.invalidate()
    assert inventory.series() == [BTC, ETH]
    assert (store.stamps_asked, store.symbols_asked) == (2, 2)


def test_the_caller_gets_a_copy(inventory):
    inventory.series().append(ETH)
    assert inventory.series() == [BTC]


def test_an_unavailable_store_serves_the_last_inventory_and_asks_again_after_max_age(
    store, clock, inventory, caplog
):
    inventory.series()
    store.down = True
    clock.now += 2
    with caplog.at_level(logging.WARNING, logger="quantgrid.candles.inventory"):
        assert inventory.series() == [BTC]
    assert "serving the last known series inventory" in caplog.text
    inventory.series()
    assert store.stamps_asked == 2  # not on every call while it is down
    store.down = False
    store.write(ETH)
    clock.now += 2
    assert inventory.series() == [BTC, ETH]


def test_an_outage_after_invalidate_still_serves_the_last_inventory(store, inventory):
    inventory.series()
    store.down = True
    inventory.invalidate()
    assert inventory.series() == [BTC]


def test_an_unavailable_store_with_no_inventory_yet_raises_and_is_asked_again(store, inventory):
    store.down = True
    with pytest.raises(CandleStoreUnavailable):
        inventory.series()
    with pytest.raises(CandleStoreUnavailable):
        inventory.series()
    assert store.stamps_asked == 2
    store.down = False
    assert inventory.series() == [BTC]


def test_concurrent_callers_share_one_recompute(store, inventory):
    entered, release = threading.Event(), threading.Event()
    slow_symbols = store.symbols

    def symbols():
        entered.set()
        release.wait(timeout=30)  # a safety net against a hang, not a measurement
        return slow_symbols()

    store.symbols = symbols
    results = []
    first = threading.Thread(target=lambda: results.append(inventory.series()))
    first.start()
    assert entered.wait(timeout=30)
    # The first caller is inside symbols(), holding the inventory: the others must wait for it.
    others = [threading.Thread(target=lambda: results.append(inventory.series())) for _ in range(7)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(timeout=30)
    assert results == [[BTC]] * 8
    assert (store.stamps_asked, store.symbols_asked) == (1, 1)


def test_a_negative_max_age_is_refused(store):
    with pytest.raises(ValueError, match="max_age"):
        Inventory(store, max_age=-1)
