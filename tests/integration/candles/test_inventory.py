"""The store-wide inventory stamp and the inventory cache, against the embedded store and a real influxd."""

from __future__ import annotations

import pytest

from quantgrid.candles.cache import CachedStore
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.influx import InfluxStore
from tests.support.candles import MINUTE, T0, minutes


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
