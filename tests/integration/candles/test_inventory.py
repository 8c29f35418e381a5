"""The store-wide inventory stamp and the inventory cache, against the embedded store and a real influxd."""

from __future__ import annotations

import pytest

from quantgrid.candles.cache import CachedStore
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.influx_v1 import InfluxStore
from quantgrid.candles.inventory import Inventory
from tests.support.candles import MINUTE, T0, minutes


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def elsewhere(store):
    """A second store object on the same data, as another process would open it."""
    other = EmbeddedStore(store.root) if isinstance(store, EmbeddedStore) else InfluxStore(store.url, store.db)
    yield other
    other.close()


def test_the_stamp_is_stable_until_a_series_is_written(store):
    empty = store.inventory_stamp()
    assert store.inventory_stamp() == empty
    store.write("BTCUSDT", "1m", minutes(10))
    first = store.inventory_stamp()
    assert first != empty
    assert store.inventory_stamp() == first
    store.write("BTCUSDT", "5m", minutes(10, step=5 * MINUTE))  # a new series of a known symbol
    assert store.inventory_stamp() != first


def test_the_stamp_changes_on_a_write_or_delete_of_any_symbol_not_only_the_latest(store):
    # AAA sorts before ZZZ: a stamp that took the newest generation point (InfluxDB picks one
    # by series order when they tie at time 0) would miss the changes to AAA below.
    store.write("AAA", "1m", minutes(10))
    store.write("ZZZ", "1m", minutes(10))
    seen = {store.inventory_stamp()}
    store.write("AAA", "1m", minutes(5, start=T0 + 10 * MINUTE))
    seen.add(store.inventory_stamp())
    store.delete("AAA", "1m", T0, T0 + 3 * MINUTE)  # a range
    seen.add(store.inventory_stamp())
    store.delete("AAA")  # the whole symbol
    seen.add(store.inventory_stamp())
    assert len(seen) == 4


def test_a_reimport_of_identical_data_counts_as_a_write(store):
    data = minutes(20)
    store.write("BTCUSDT", "1m", data)
    before = store.inventory_stamp()
    store.write("BTCUSDT", "1m", data)
    assert store.inventory_stamp() != before


def test_the_stamp_is_the_same_for_every_store_object_and_through_the_cache(store, elsewhere, tmp_path):
    store.write("BTCUSDT", "1m", minutes(10))
    before = store.inventory_stamp()
    cached = CachedStore(elsewhere, tmp_path / "cache", 10**9)
    assert cached.inventory_stamp() == elsewhere.inventory_stamp() == before
    cached.write("ETHUSDT", "1m", minutes(10))
    assert store.inventory_stamp() == cached.inventory_stamp() != before


def test_an_inventory_sees_another_store_objects_write_once_max_age_has_passed(store, elsewhere):
    clock = Clock()
    inventory = Inventory(store, max_age=2.0, clock=clock)
    assert inventory.series() == []
    elsewhere.write("BTCUSDT", "1m", minutes(30))
    clock.now = 1.9
    assert inventory.series() == []  # not asked again yet: this is the staleness bound
    clock.now = 2.0
    assert [(s.symbol, s.count) for s in inventory.series()] == [("BTCUSDT", 30)]
    elsewhere.write("BTCUSDT", "1m", minutes(10, start=T0 + 30 * MINUTE))  # an import extends it
    clock.now = 4.0
    assert [(s.symbol, s.count) for s in inventory.series()] == [("BTCUSDT", 40)]
    assert inventory.series() == store.symbols()
    elsewhere.delete("BTCUSDT")
    clock.now = 6.0
    assert inventory.series() == []


def test_invalidate_shows_a_write_through_this_process_at_once(store):
    clock = Clock()
    inventory = Inventory(store, max_age=2.0, clock=clock)
    store.write("BTCUSDT", "1m", minutes(30))
    assert [s.symbol for s in inventory.series()] == ["BTCUSDT"]
    store.write("ETHUSDT", "1m", minutes(30))
    inventory.invalidate()
    assert [s.symbol for s in inventory.series()] == ["BTCUSDT", "ETHUSDT"]
    assert inventory.series() == store.symbols()
