"""The worker cache: one load per host for concurrent processes, invalidation, LRU bound, counts."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
from prometheus_client import REGISTRY

from quantgrid.candles.cache import CachedStore, cache_stats
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.errors import CandleGapError, CandlesNotFound
from tests.support.candles import MINUTE, T0, assert_same, minutes


class CountingStore(EmbeddedStore):
    """An embedded store that counts the reads reaching it, in a file shared by processes."""

    def __init__(self, root, counter):
        super().__init__(root)
        self.counter = counter

    def read(self, *args, **kwargs):
        with open(self.counter, "a") as f:
            f.write("x")
        return super().read(*args, **kwargs)


def _cached(tmp_path, max_bytes=10**9):
    inner = CountingStore(tmp_path / "store", tmp_path / "loads")
    return inner, CachedStore(inner, tmp_path / "cache", max_bytes)


def _loads(tmp_path) -> int:
    p = tmp_path / "loads"
    return len(p.read_text()) if p.exists() else 0


def test_second_read_is_a_hit_served_from_a_read_only_mapping(tmp_path):
    inner, cache = _cached(tmp_path)
    data = minutes(1000)
    inner.write("BTCUSDT", "1m", data)
    assert_same(cache.read("BTCUSDT", "1m"), data)
    again = cache.read("BTCUSDT", "1m")
    assert_same(again, data)
    assert cache.stats() == {"hits": 1, "misses": 1}
    assert _loads(tmp_path) == 1
    assert not again.close.flags.writeable  # nobody can corrupt the shared copy


def test_counts_reach_the_process_stats_and_prometheus(tmp_path):
    inner, cache = _cached(tmp_path)
    inner.write("BTCUSDT", "1m", minutes(10))
    before = cache_stats()
    hits0 = REGISTRY.get_sample_value("quantgrid_candle_cache_hits_total")
    misses0 = REGISTRY.get_sample_value("quantgrid_candle_cache_misses_total")
    for _ in range(3):
        cache.read("BTCUSDT", "1m")
    after = cache_stats()
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (2, 1)
    assert REGISTRY.get_sample_value("quantgrid_candle_cache_hits_total") - hits0 == 2
    assert REGISTRY.get_sample_value("quantgrid_candle_cache_misses_total") - misses0 == 1


def test_different_ranges_and_timeframes_are_different_entries(tmp_path):
    inner, cache = _cached(tmp_path)
    data = minutes(600)
    inner.write("BTCUSDT", "1m", data)
    assert_same(cache.read("BTCUSDT", "1m", T0, T0 + 10 * MINUTE), data.slice(0, 10))
    assert len(cache.read("BTCUSDT", "1h")) == 10
    assert_same(cache.read("BTCUSDT", "1m", T0 + 10 * MINUTE), data.slice(10, 600))
    assert cache.stats() == {"hits": 0, "misses": 3}


def test_reimport_of_the_symbol_invalidates_its_entries_only(tmp_path):
    inner, cache = _cached(tmp_path)
    inner.write("BTCUSDT", "1m", minutes(100, seed=1))
    inner.write("ETHUSDT", "1m", minutes(100, seed=2))
    cache.read("BTCUSDT", "1m")
    cache.read("ETHUSDT", "1m")
    fresh = minutes(100, seed=3)
    inner.write("BTCUSDT", "1m", fresh)  # through the store, as another host would
    assert_same(cache.read("BTCUSDT", "1m"), fresh)
    cache.read("ETHUSDT", "1m")
    assert cache.stats() == {"hits": 1, "misses": 3}
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2  # the stale file is gone


def test_the_cache_stays_within_its_byte_budget_evicting_least_recently_used(tmp_path):
    entry = 6 * 8 * 1000 + 128
    inner, cache = _cached(tmp_path, max_bytes=int(2.5 * entry))
    for sym in ("AAA", "BBB", "CCC"):
        inner.write(sym, "1m", minutes(1000))
    cache.read("AAA", "1m")
    cache.read("BBB", "1m")
    cache.read("AAA", "1m")  # AAA is now the most recently used
    cache.read("CCC", "1m")  # evicts BBB
    files = list((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 2 and sum(f.stat().st_size for f in files) <= 2.5 * entry
    cache.read("AAA", "1m")
    cache.read("BBB", "1m")
    assert cache.stats() == {"hits": 2, "misses": 4}


def test_an_entry_larger_than_the_budget_is_served_but_not_kept(tmp_path):
    inner, cache = _cached(tmp_path, max_bytes=1000)
    inner.write("BTCUSDT", "1m", minutes(1000))
    assert len(cache.read("BTCUSDT", "1m")) == 1000
    assert list((tmp_path / "cache").glob("*.npy")) == []


def test_gap_and_not_found_errors_pass_through(tmp_path):
    inner, cache = _cached(tmp_path)
    data = minutes(10)
    inner.write("BTCUSDT", "1m", data.slice(0, 3))
    inner.write("BTCUSDT", "1m", data.slice(5, 10))
    with pytest.raises(CandleGapError):
        cache.read("BTCUSDT", "1m")
    assert len(cache.read("BTCUSDT", "1m", gaps="allow")) == 8  # served from the entry just made
    with pytest.raises(CandlesNotFound):
        cache.read("NOSUCH", "1m")


def _worker(root, barrier, out):
    inner = CountingStore(root / "store", root / "loads")
    cache = CachedStore(inner, root / "cache", 10**9)
    barrier.wait()
    candles = cache.read("BTCUSDT", "1m")
    out.put((cache.stats()["misses"], float(candles.close.sum()), len(candles)))


def test_six_concurrent_processes_load_from_the_store_once(tmp_path):
    data = minutes(200_000)
    EmbeddedStore(tmp_path / "store").write("BTCUSDT", "1m", data)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(tmp_path, barrier, out)) for _ in range(6)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(r[0] for r in results) == 1
    assert _loads(tmp_path) == 1
    assert {(r[1], r[2]) for r in results} == {(float(np.sum(data.close)), 200_000)}
